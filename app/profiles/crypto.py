"""Crypto address formats and payment URIs for donation links: pure functions, no Flask."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from Crypto.Hash import keccak


class AddressError(ValueError):
    """An address that can't receive this currency; the message is shown to the creator as is."""


# --- Base58 (Bitcoin alphabet) -------------------------------------------------------------

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: i for i, char in enumerate(B58_ALPHABET)}


def base58_decode(text: str) -> bytes:
    """Decode Bitcoin-alphabet base58; every leading "1" is a zero byte."""
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise AddressError(f"“{char}” can't appear in this kind of address.")
        number = number * 58 + _B58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def _double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def base58check_decode(text: str, coin: str) -> bytes:
    """The payload of a base58check string (version byte included), or an error naming the coin."""
    try:
        raw = base58_decode(text)
    except AddressError:
        raise AddressError(f"That isn't a {coin} address: it has a character base58 never uses "
                           "(0, O, I and l never appear).") from None
    if len(raw) < 5:
        raise AddressError(f"That's too short to be a {coin} address.")
    payload, checksum = raw[:-4], raw[-4:]
    if _double_sha256(payload)[:4] != checksum:
        raise AddressError(f"That {coin} address's checksum doesn't match — check for a typo.")
    return payload


# --- Bech32 and Bech32m (BIP-173, BIP-350) -------------------------------------------------

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST, BECH32M_CONST = 1, 0x2BC830A3


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


class Bech32Error(AddressError):
    pass


def bech32_decode(text: str) -> tuple[str, list[int], str]:
    """(hrp, data without checksum, "bech32" or "bech32m"); raises Bech32Error when malformed."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("That address has a character that can't be in it.")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("That address mixes upper and lower case, which isn't allowed.")
    if len(text) > 90:
        raise Bech32Error("That address is too long.")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("That isn't a complete address.")
    hrp, rest = text[:pos], text[pos + 1:]
    if any(c not in BECH32_CHARSET for c in rest):
        bad = next(c for c in rest if c not in BECH32_CHARSET)
        raise Bech32Error(f"“{bad}” can't appear after the “1” in this kind of address.")
    data = [BECH32_CHARSET.find(c) for c in rest]
    const = _polymod(_hrp_expand(hrp) + data)
    if const == BECH32_CONST:
        return hrp, data[:-6], "bech32"
    if const == BECH32M_CONST:
        return hrp, data[:-6], "bech32m"
    raise Bech32Error("checksum")


def _convert_bits(data: list[int], from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            return None
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        return None
    return out


def segwit_decode(hrp: str, text: str, coin: str) -> tuple[int, bytes]:
    """(witness version, program) of a segwit address for `hrp`, by BIP-173 and BIP-350 rules."""
    try:
        got_hrp, data, spec = bech32_decode(text)
    except Bech32Error as error:
        if str(error) == "checksum":
            raise AddressError(f"That {coin} address's checksum doesn't match — check for a typo.") from None
        raise
    if got_hrp != hrp:
        raise AddressError(f"That isn't a {coin} address.")
    if not data:
        raise AddressError(f"That {coin} address is incomplete.")
    version = data[0]
    if version > 16:
        raise AddressError(f"That {coin} address has an unknown witness version.")
    program = _convert_bits(data[1:], 5, 8, False)
    if program is None or not 2 <= len(program) <= 40:
        raise AddressError(f"That {coin} address has the wrong length — check for a typo.")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError(f"That {coin} address has the wrong length — check for a typo.")
    # BIP-350: version 0 uses Bech32, every later version Bech32m.
    if (version == 0) != (spec == "bech32"):
        raise AddressError(f"That {coin} address's checksum doesn't match — check for a typo.")
    return version, bytes(program)


# --- Bitcoin-family coins ------------------------------------------------------------------

@dataclass(frozen=True)
class Network:
    coin: str
    versions: frozenset[int]      # base58check version bytes accepted on mainnet
    hrp: str | None            # bech32 human-readable part, None when the coin has no segwit
    testnet_prefixes: tuple[str, ...]


BITCOIN = Network("Bitcoin", frozenset({0x00, 0x05}), "bc", ("tb1", "bcrt1", "m", "n", "2"))
LITECOIN = Network("Litecoin", frozenset({0x30, 0x32, 0x05}), "ltc", ("tltc1", "rltc1", "Q", "m", "n", "2"))
DOGECOIN = Network("Dogecoin", frozenset({0x1E, 0x16}), None, ("n", "2"))


def _validate_bitcoin_like(text: str, net: Network) -> str:
    if net.hrp and text.lower().startswith(net.hrp + "1"):
        segwit_decode(net.hrp, text, net.coin)
        return text.lower()
    if any(text.startswith(p) or text.lower().startswith(p) and p.endswith("1") for p in net.testnet_prefixes):
        raise AddressError(f"That looks like a {net.coin} testnet address. Use a mainnet address: "
                           "tips sent on a test network are worthless.")
    if not 25 <= len(text) <= 35:
        raise AddressError(f"That doesn't look like a {net.coin} address — it's the wrong length.")
    payload = base58check_decode(text, net.coin)
    if len(payload) != 21 or payload[0] not in net.versions:
        raise AddressError(f"That isn't a {net.coin} address.")
    return text


def validate_btc(text: str) -> str:
    return _validate_bitcoin_like(text, BITCOIN)


def validate_ltc(text: str) -> str:
    return _validate_bitcoin_like(text, LITECOIN)


def validate_doge(text: str) -> str:
    return _validate_bitcoin_like(text, DOGECOIN)


# --- Ethereum (EIP-55) ---------------------------------------------------------------------

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def eip55(address: str) -> str:
    """The EIP-55 mixed-case checksum form of a 0x-prefixed 40-hex-digit address."""
    body = address[2:].lower()
    digest = keccak256(body.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(body, digest))


def validate_eth(text: str, coin: str = "Ethereum") -> str:
    if text[:2].lower() == "0x":
        text = "0x" + text[2:]
    if not _HEX40.fullmatch(text):
        raise AddressError(f"{coin} addresses are “0x” followed by 40 hexadecimal digits.")
    body = text[2:]
    checksummed = eip55(text)
    # All one case carries no checksum (EIP-55); mixed case must match it exactly.
    if body != body.lower() and body != body.upper() and text != checksummed:
        raise AddressError(f"That {coin} address's checksum doesn't match — check for a typo.")
    return checksummed


# --- Solana --------------------------------------------------------------------------------

def validate_sol(text: str) -> str:
    if not 32 <= len(text) <= 44:
        raise AddressError("Solana addresses are 32 to 44 base58 characters.")
    try:
        raw = base58_decode(text)
    except AddressError:
        raise AddressError("That isn't a Solana address: it has a character base58 doesn't use "
                           "(0, O, I and l never appear).") from None
    if len(raw) != 32:
        raise AddressError("That isn't a Solana address: it doesn't decode to a 32-byte public key.")
    return text


# --- Monero --------------------------------------------------------------------------------

# Monero's base58 encodes 8-byte blocks as 11 characters; a shorter last block uses this many.
_XMR_BLOCK_CHARS = {0: 0, 1: 2, 2: 3, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11}
_XMR_CHARS_TO_BYTES = {chars: size for size, chars in _XMR_BLOCK_CHARS.items()}
XMR_NETWORK_BYTES = {18: "standard", 42: "subaddress", 19: "integrated"}
_XMR_TESTNETS = {53, 54, 63, 24, 25, 36}  # testnet and stagenet


def monero_base58_decode(text: str) -> bytes:
    out = bytearray()
    for start in range(0, len(text), 11):
        block = text[start:start + 11]
        size = _XMR_CHARS_TO_BYTES.get(len(block))
        if size is None:
            raise AddressError("That Monero address has the wrong length — check for a typo.")
        number = 0
        for char in block:
            if char not in _B58_INDEX:
                raise AddressError(f"“{char}” can't appear in a Monero address.")
            number = number * 58 + _B58_INDEX[char]
        if number >> (8 * size):
            raise AddressError("That isn't a Monero address.")
        out += number.to_bytes(size, "big")
    return bytes(out)


def validate_xmr(text: str) -> str:
    if len(text) not in (95, 106):
        raise AddressError("Monero addresses are 95 characters (106 for an integrated address).")
    raw = monero_base58_decode(text)
    payload, checksum = raw[:-4], raw[-4:]
    if keccak256(payload)[:4] != checksum:
        raise AddressError("That Monero address's checksum doesn't match — check for a typo.")
    network = payload[0]
    if network in _XMR_TESTNETS:
        raise AddressError("That's a Monero testnet or stagenet address. Use a mainnet address: "
                           "tips sent on a test network are worthless.")
    kind = XMR_NETWORK_BYTES.get(network)
    expected = 1 + 64 + (8 if kind == "integrated" else 0)
    if kind is None or len(payload) != expected:
        raise AddressError("That isn't a Monero mainnet address.")
    return text


# --- Currencies ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Currency:
    code: str
    name: str
    scheme: str
    validate: Callable[[str], str]


CURRENCIES: dict[str, Currency] = {
    c.code: c for c in (
        Currency("BTC", "Bitcoin", "bitcoin", validate_btc),
        Currency("ETH", "Ether", "ethereum", validate_eth),
        Currency("ERC20", "ERC-20 token", "ethereum", validate_eth),
        Currency("LTC", "Litecoin", "litecoin", validate_ltc),
        Currency("DOGE", "Dogecoin", "dogecoin", validate_doge),
        Currency("SOL", "Solana", "solana", validate_sol),
        Currency("XMR", "Monero", "monero", validate_xmr),
    )
}

# Well-known ERC-20 tokens on Ethereum mainnet, by symbol: their contract addresses.
KNOWN_TOKENS: dict[str, str] = {
    "USDT": "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    "USDC": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    "DAI": "0x6B175474E89094C44Da98b954EedeAC495271d0F",
}
_SYMBOL = re.compile(r"[A-Za-z0-9]{1,11}")


@dataclass(frozen=True)
class Token:
    symbol: str
    contract: str


def validate_token(symbol: str, contract: str = "") -> Token:
    """An ERC-20 token: a known symbol (its contract is looked up), or any symbol with a contract."""
    symbol = (symbol or "").strip().upper()
    contract = (contract or "").strip()
    if not symbol:
        raise AddressError("Name the token, for example USDC.")
    if not _SYMBOL.fullmatch(symbol):
        raise AddressError("A token symbol is 1 to 11 letters or digits, like USDC.")
    known = KNOWN_TOKENS.get(symbol)
    if known:
        if contract and validate_eth(contract, "token contract").lower() != known.lower():
            raise AddressError(f"That isn't the {symbol} contract on Ethereum mainnet "
                               f"({known}). Leave the contract empty to use it.")
        return Token(symbol, known)
    if not contract:
        raise AddressError(f"{symbol} isn't one we know ({', '.join(KNOWN_TOKENS)}), "
                           "so give its contract address too.")
    return Token(symbol, validate_eth(contract, "token contract"))


def validate_address(currency: str, text: str) -> str:
    """The address in its normal form for `currency`, or AddressError with a message for people."""
    spec = CURRENCIES.get(currency)
    if spec is None:
        raise AddressError("Pick one of the listed currencies.")
    text = re.sub(r"\s+", "", text or "")
    if not text:
        raise AddressError("Paste your address.")
    scheme = spec.scheme + ":"
    if text.lower().startswith(scheme):
        raise AddressError(f"Paste just the address, without “{scheme}” or anything after it.")
    return spec.validate(text)


def payment_uri(currency: str, address: str, token: Token | None = None) -> str:
    """The link a wallet opens: BIP21, EIP-681, Solana Pay, or the coin's own scheme."""
    if currency == "ERC20":
        if token is None:
            raise ValueError("an ERC-20 payment URI needs its token")
        return f"ethereum:{token.contract}/transfer?address={address}"
    return f"{CURRENCIES[currency].scheme}:{address}"
