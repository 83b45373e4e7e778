"""Address formats and checksums, against published test vectors and real mainnet addresses."""
import pytest

from app.profiles import crypto
from app.profiles.crypto import AddressError, validate_address

# BIP-173 / BIP-350 checksum vectors, as listed in the BIPs and sipa/bech32 ref/python/tests.py.
VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
INVALID_BECH32 = [
    " 1nwldj5", "\x7f1axkwrx", "\x801eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "de1lg7wt\xff", "A1G7SGD8", "10a06t8", "1qzzfhee",
]
INVALID_BECH32M = [
    " 1xj0phk", "\x7f1g6xzxy", "\x801vctc34",
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m", "1qyrz8wqd2c9m", "y1b0jsk6g", "lt1igcx5c0", "in1muywd", "mm1crxm3i", "au1s5cgom",
    "M1VUXWEZ", "16plkw9", "1p2gdwpf",
]
# BIP-350 segwit addresses (mainnet ones; the tb1 ones are below, refused as testnet).
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", 0, "751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", 1,
     "751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("BC1SW50QGDZ25J", 16, "751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", 2, "751e76e8199196d454941c45d1b3a323"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", 1,
     "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
]
TESTNET_SEGWIT = [
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
    "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
]
INVALID_SEGWIT = [
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",   # invalid HRP
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",   # bech32 instead of bech32m
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",   # bech32 instead of bech32m
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",                       # bech32m instead of bech32
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",   # invalid character in checksum
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",   # invalid witness version
    "bc1pw5dgrnzv",                                                     # program length 1
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # program length 41
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",                             # v0 program length 16
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", # more than 4 padding bits
    "bc1gmk9yu",                                                        # empty data section
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",                       # BIP-173: bad checksum
    "bc1qw508D6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",                       # mixed case
]


@pytest.mark.parametrize("text", VALID_BECH32)
def test_bech32_checksum_vectors(text):
    assert crypto.bech32_decode(text)[2] == "bech32"


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_bech32m_checksum_vectors(text):
    assert crypto.bech32_decode(text)[2] == "bech32m"


@pytest.mark.parametrize("text", VALID_BECH32 + VALID_BECH32M)
def test_one_flipped_character_breaks_the_checksum(text):
    pos = text.rfind("1")
    broken = text[:pos + 1] + chr(ord(text[pos + 1]) ^ 1) + text[pos + 2:]
    with pytest.raises(AddressError):
        crypto.bech32_decode(broken)


@pytest.mark.parametrize("text", INVALID_BECH32 + INVALID_BECH32M)
def test_invalid_bech32_vectors(text):
    try:
        _, _, spec = crypto.bech32_decode(text)
    except AddressError:
        return
    # A few BIP vectors are valid under the *other* checksum; they must never pass as their own.
    assert (text in INVALID_BECH32 and spec == "bech32m") or (text in INVALID_BECH32M and spec == "bech32")


@pytest.mark.parametrize("address, version, program", VALID_SEGWIT)
def test_bip350_segwit_addresses(address, version, program):
    assert crypto.segwit_decode("bc", address, "Bitcoin") == (version, bytes.fromhex(program))
    assert validate_address("BTC", address) == address.lower()


@pytest.mark.parametrize("address", INVALID_SEGWIT)
def test_bip350_invalid_segwit_addresses(address):
    with pytest.raises(AddressError):
        validate_address("BTC", address)


@pytest.mark.parametrize("address", TESTNET_SEGWIT + ["mzBc4XEFSdzCDcTxAgf6EZXgsZWpztRhef",
                                                      "2MxKEf2su6FGAUfCEAHreGFQvEYrfYNHvL7"])
def test_bitcoin_testnet_is_refused_by_name(address):
    with pytest.raises(AddressError, match="testnet"):
        validate_address("BTC", address)


@pytest.mark.parametrize("address", [
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",   # the genesis block's coinbase address
    "12KYrjTdVGjFMtaxERSk3gphreJ5US8aUP",
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",   # P2SH example from the Bitcoin wiki
    "3NJZLcZEEYBpxYEUGewU4knsQRn1WM5Fkt",
    "bc1q2t63ewm3mvh0ztmnmezxm7s0tefknenxlrlwrk",
])
def test_bitcoin_mainnet_addresses(address):
    assert validate_address("BTC", f"  {address}\n") == address.lower() if address.startswith("bc1") else address


def test_bitcoin_base58_checksum_message():
    with pytest.raises(AddressError) as error:
        validate_address("BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb")
    assert str(error.value) == "That Bitcoin address's checksum doesn't match — check for a typo."


def test_bitcoin_refuses_other_coins_and_uris():
    with pytest.raises(AddressError, match="isn't a Bitcoin address"):
        validate_address("BTC", "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9")
    with pytest.raises(AddressError, match="without “bitcoin:”"):
        validate_address("BTC", "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=1")
    with pytest.raises(AddressError):
        validate_address("BTC", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")


# EIP-55's own examples: all caps, all lower, and mixed-case checksummed.
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55_EXAMPLES)
def test_eip55_examples(address):
    normal = validate_address("ETH", address)
    assert normal.lower() == address.lower()
    assert crypto.eip55(address.lower()) == normal
    if address[2:] not in (address[2:].lower(), address[2:].upper()):
        assert normal == address  # the mixed-case examples are their own checksummed form


def test_eth_mixed_case_with_a_wrong_letter_is_refused():
    wrong = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
    with pytest.raises(AddressError, match="Ethereum address's checksum doesn't match"):
        validate_address("ETH", wrong)
    assert validate_address("ETH", wrong.lower()) == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.mark.parametrize("address", ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
                                     "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                                     "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg"])
def test_eth_shape(address):
    with pytest.raises(AddressError, match="40 hexadecimal digits"):
        validate_address("ETH", address)


def test_known_tokens_have_checksummed_mainnet_contracts():
    for symbol, contract in crypto.KNOWN_TOKENS.items():
        assert crypto.eip55(contract) == contract, symbol
    assert crypto.validate_token("usdc") == crypto.Token("USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")


def test_custom_token_needs_a_valid_contract():
    with pytest.raises(AddressError, match="contract address"):
        crypto.validate_token("SHIB")
    with pytest.raises(AddressError, match="checksum"):
        crypto.validate_token("SHIB", "0x95aD61b0a150d79219dCF64E1E6Cc01f0B64C4cE".replace("E", "e", 1))
    token = crypto.validate_token("shib", "0x95ad61b0a150d79219dcf64e1e6cc01f0b64c4ce")
    assert token == crypto.Token("SHIB", "0x95aD61b0a150d79219dCF64E1E6Cc01f0B64C4cE")
    with pytest.raises(AddressError, match="isn't the USDT contract"):
        crypto.validate_token("USDT", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
    with pytest.raises(AddressError, match="1 to 11 letters"):
        crypto.validate_token("<b>", "")


@pytest.mark.parametrize("address", [
    "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9", "LTpYZG19YmfvY2bBDYtCKpunVRw7nVgRHW", "Lb6wDP2kHGyWC7vrZuZAgV7V4ECyDdH7a6",
    "3NJZLcZEEYBpxYEUGewU4knsQRn1WM5Fkt", "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea",
])
def test_litecoin_addresses(address):
    assert validate_address("LTC", address) == address


@pytest.mark.parametrize("address", ["tltc1qu78xur5xnq6fjy83amy0qcjfau8m367defyhms",
                                     "QW2SvwjaJU8LD6GSmtm1PHnBG2xPuxwZFy"])
def test_litecoin_testnet_refused(address):
    with pytest.raises(AddressError, match="testnet"):
        validate_address("LTC", address)


def test_litecoin_checksum_and_bitcoin_segwit_refused():
    with pytest.raises(AddressError, match="Litecoin address's checksum"):
        validate_address("LTC", "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH8")
    with pytest.raises(AddressError, match="Litecoin address's checksum"):
        validate_address("LTC", "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfec")
    with pytest.raises(AddressError):
        validate_address("LTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")


@pytest.mark.parametrize("address", ["DPpJVPpvPNP6i6tMj4rTycAGh8wReTqaSU", "DNzLUN6MyYVS5zf4Xc2yK69V3dXs6Mxia5",
                                     "DPS6iZj7roHquvwRYXNBua9QtKPzigUUhM", "A7JjzK9k9x5b2MkkQzqt91WZsuu7wTu6iS"])
def test_dogecoin_addresses(address):
    assert validate_address("DOGE", address) == address


def test_dogecoin_refusals():
    with pytest.raises(AddressError, match="Dogecoin address's checksum"):
        validate_address("DOGE", "DPpJVPpvPNP6i6tMj4rTycAGh8wReTqaSV")
    with pytest.raises(AddressError, match="isn't a Dogecoin address"):
        validate_address("DOGE", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")


@pytest.mark.parametrize("address", [
    "11111111111111111111111111111111",               # the System Program
    "So11111111111111111111111111111111111111112",    # wrapped SOL mint
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",    # the SPL Token program
    "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",   # the USDC mint on Solana
])
def test_solana_addresses(address):
    assert validate_address("SOL", address) == address


@pytest.mark.parametrize("address, message", [
    ("1111111111111111111111111111111", "32 to 44"),
    ("So1111111111111111111111111111111111111111O", "character base58"),
    ("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "32-byte"),
])
def test_solana_refusals(address, message):
    with pytest.raises(AddressError, match=message):
        validate_address("SOL", address)


XMR_STANDARD = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"


@pytest.mark.parametrize("address", [
    XMR_STANDARD,   # the Monero General Fund donation address
    "47zQ5LAivg6hNCgijXSEFVLX7mke1bgM6YGLFaANDoJbgXDymcAAZvvMNt2PmMpqEe5qRy2zyfMYXdwpmdyitiFh84xnPG2",
    "88WB4JKdQVhWfkc8cBT9EEJ6vejSAqKJHbV1dXBAXdpgQovtNDNRxfKCS7wB8rHQ5D5zH2Pd1YkyMNNQDie6ZfeZ311fPgn",  # subaddress
    # integrated
    "4Gd4DLiXzBmbVX2FZZ3Cvu6fUaWACup1qDowprUCje1kSP4FmbftiJMSfV8kWZXNqmVwj4m52xqtgFNUudVmsmGkGvkLcCibWfVUfUFVB7",
])
def test_monero_addresses(address):
    assert validate_address("XMR", address) == address
    assert crypto.monero_base58_decode(address)[0] in crypto.XMR_NETWORK_BYTES


def test_monero_refusals():
    with pytest.raises(AddressError, match="Monero address's checksum doesn't match"):
        validate_address("XMR", XMR_STANDARD[:-1] + "B")
    with pytest.raises(AddressError, match="testnet or stagenet"):
        validate_address(
            "XMR", "9uXRFi4PZMqhsnthBF6bGdfVnBSZtfKkR7Td8qPM7jUKZeTfR1tLhCoTLqYNE12xuiQg3aWGiLw83bWsqwTRLaM4Jk47xYM")
    with pytest.raises(AddressError, match="testnet or stagenet"):
        validate_address(
            "XMR", "5BAP9qLbRseYrGneYVRaFANMajuaD4KZrf3fGWvt5cVDR1xUXm6qoFYLkgU6Vp12fs2R24r4269inAWHFEdsLnE87rGCxYK")
    with pytest.raises(AddressError, match="95 characters"):
        validate_address("XMR", XMR_STANDARD[:-1])


def test_unknown_currency_and_empty_address():
    with pytest.raises(AddressError, match="listed currencies"):
        validate_address("XRP", "rG1QQv2nh2gr7RCZ1P8YYcBUKCCN633jCn")
    with pytest.raises(AddressError, match="Paste your address"):
        validate_address("BTC", "   ")


def test_payment_uris():
    token = crypto.validate_token("USDC")
    eth = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert crypto.payment_uri("BTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4") == \
        "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert crypto.payment_uri("ETH", eth) == f"ethereum:{eth}"
    assert crypto.payment_uri("ERC20", eth, token) == \
        f"ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/transfer?address={eth}"
    ltc, doge = "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9", "DPpJVPpvPNP6i6tMj4rTycAGh8wReTqaSU"
    assert crypto.payment_uri("LTC", ltc) == f"litecoin:{ltc}"
    assert crypto.payment_uri("DOGE", doge) == f"dogecoin:{doge}"
    assert crypto.payment_uri("SOL", "So11111111111111111111111111111111111111112") == \
        "solana:So11111111111111111111111111111111111111112"
    assert crypto.payment_uri("XMR", XMR_STANDARD) == f"monero:{XMR_STANDARD}"
