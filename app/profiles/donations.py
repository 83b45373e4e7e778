"""Crypto donation links on a profile: adding, editing, ordering and showing them with QR codes."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import segno
from markupsafe import Markup
from sqlalchemy import select

from ..extensions import db
from ..models import DonationAddress, User
from . import crypto

MAX_ADDRESSES = 10
NOTE_MAX = 200


class DonationError(ValueError):
    """A refused change: the form field it concerns and a message for the creator."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CleanEntry:
    currency: str
    address: str
    token: crypto.Token | None
    note: str


@dataclass(frozen=True)
class PublicDonation:
    id: int
    code: str          # what the badge says: BTC, ETH, USDC...
    label: str         # the currency in words
    address: str
    note: str
    uri: str
    qr_svg: Markup


def currency_choices() -> list[tuple[str, str]]:
    return [(code, f"{spec.name} ({code})" if code != "ERC20" else "ERC-20 token on Ethereum (USDT, USDC, DAI…)")
            for code, spec in crypto.CURRENCIES.items()]


def donation_addresses(user: User) -> list[DonationAddress]:
    return list(db.session.scalars(
        select(DonationAddress).where(DonationAddress.user_id == user.id)
        .order_by(DonationAddress.position, DonationAddress.id)))


def _address_of(user: User, entry_id: int) -> DonationAddress:
    entry = db.session.get(DonationAddress, entry_id)
    if entry is None or entry.user_id != user.id:
        raise LookupError(entry_id)
    return entry


def _clean_note(note: str) -> str:
    # Plain text on one line: control characters (newlines included) become spaces.
    note = "".join(" " if unicodedata.category(c).startswith("C") else c for c in note or "")
    note = " ".join(note.split())
    if len(note) > NOTE_MAX:
        raise DonationError("note", f"Keep the note to {NOTE_MAX} characters or fewer.")
    return note


def _clean(user: User, currency: str, address: str, note: str, token_symbol: str, token_contract: str,
           editing: DonationAddress | None = None) -> CleanEntry:
    """Every check, before anything changes: a refused entry leaves the list as it was."""
    if currency not in crypto.CURRENCIES:
        raise DonationError("currency", "Pick one of the listed currencies.")
    token = None
    if currency == "ERC20":
        try:
            token = crypto.validate_token(token_symbol, token_contract)
        except crypto.AddressError as error:
            field = "token_contract" if token_symbol and "contract" in str(error) else "token_symbol"
            raise DonationError(field, str(error)) from None
    try:
        address = crypto.validate_address(currency, address)
    except crypto.AddressError as error:
        raise DonationError("address", str(error)) from None
    note = _clean_note(note)
    symbol = token.symbol if token else ""
    for other in donation_addresses(user):
        if other is not editing and (other.currency, other.address, other.token_symbol) == (currency, address, symbol):
            raise DonationError("address", "That address is already on your list.")
    return CleanEntry(currency, address, token, note)


def add_address(user: User, currency: str, address: str, note: str = "", token_symbol: str = "",
                token_contract: str = "") -> DonationAddress:
    existing = donation_addresses(user)
    if len(existing) >= MAX_ADDRESSES:
        raise DonationError("address", f"You can list up to {MAX_ADDRESSES} addresses. Remove one to add another.")
    clean = _clean(user, currency, address, note, token_symbol, token_contract)
    entry = DonationAddress(
        user_id=user.id, currency=clean.currency, address=clean.address, note=clean.note,
        token_symbol=clean.token.symbol if clean.token else "",
        token_contract=clean.token.contract if clean.token else None,
        position=max((e.position for e in existing), default=-1) + 1)
    db.session.add(entry)
    db.session.commit()
    return entry


def update_address(user: User, entry_id: int, currency: str, address: str, note: str = "",
                   token_symbol: str = "", token_contract: str = "") -> DonationAddress:
    entry = _address_of(user, entry_id)
    clean = _clean(user, currency, address, note, token_symbol, token_contract, editing=entry)
    entry.currency, entry.address, entry.note = clean.currency, clean.address, clean.note
    entry.token_symbol = clean.token.symbol if clean.token else ""
    entry.token_contract = clean.token.contract if clean.token else None
    db.session.commit()
    return entry


def remove_address(user: User, entry_id: int) -> None:
    db.session.delete(_address_of(user, entry_id))
    db.session.commit()


def reorder_addresses(user: User, ids: list[int]) -> None:
    """Put the creator's addresses in this order; `ids` must name each of them exactly once."""
    entries = {entry.id: entry for entry in donation_addresses(user)}
    if sorted(ids) != sorted(entries):
        raise DonationError("order", "The list changed in the meantime. Reload the page and try again.")
    for position, entry_id in enumerate(ids):
        entries[entry_id].position = position
    db.session.commit()


def move_address(user: User, entry_id: int, step: int) -> None:
    """Move one address up (step -1) or down (step +1) the list; at either end nothing moves."""
    ids = [entry.id for entry in donation_addresses(user)]
    if entry_id not in ids:
        raise LookupError(entry_id)
    here = ids.index(entry_id)
    there = here + step
    if 0 <= there < len(ids):
        ids[here], ids[there] = ids[there], ids[here]
        reorder_addresses(user, ids)


# --- showing -----------------------------------------------------------------------------

def qr_svg(uri: str, title: str) -> Markup:
    """A QR code as inline SVG with no style attributes (the CSP forbids them); CSS sizes it."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True,
                          title=title, svgclass="donation-qr-code", lineclass=None)
    return Markup(svg)  # noqa: S704 - segno's SVG of our own URI, escaped by segno


def _token_of(entry: DonationAddress) -> crypto.Token | None:
    if entry.currency != "ERC20":
        return None
    return crypto.Token(entry.token_symbol, entry.token_contract or "")


def describe(entry: DonationAddress) -> tuple[str, str]:
    """(badge code, label in words) for one address."""
    if entry.currency == "ERC20":
        return entry.token_symbol, f"{entry.token_symbol} (ERC-20 on Ethereum)"
    return entry.currency, crypto.CURRENCIES[entry.currency].name


def public_donations(user: User) -> list[PublicDonation]:
    shown = []
    for entry in donation_addresses(user):
        if entry.currency not in crypto.CURRENCIES:
            continue
        code, label = describe(entry)
        uri = crypto.payment_uri(entry.currency, entry.address, _token_of(entry))
        shown.append(PublicDonation(
            id=entry.id, code=code, label=label, address=entry.address, note=entry.note, uri=uri,
            qr_svg=qr_svg(uri, f"QR code for this {label} address")))
    return shown
