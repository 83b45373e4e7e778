"""DMCA (17 U.S.C. §512) notices and counter-notices: the elements each must have, and the
business-day arithmetic of a counter-notice's restore.

A takedown notice is only valid with every §512(c)(3)(A) element; a counter-notice with every
§512(g)(3) element. Missing elements are named back to the sender, and nothing is stored. After a
valid counter-notice the material comes back "not less than 10, nor more than 14, business days
following receipt" (§512(g)(2)(C)) unless the claimant tells us they filed a lawsuit: we restore
at the end of the 10th business day, U.S. federal holidays and weekends not counted.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import holidays

RESTORE_AFTER_BUSINESS_DAYS = 10
RESTORE_BY_BUSINESS_DAYS = 14


@dataclass(frozen=True)
class Element:
    field: str
    statute: str
    text: str  # as the sender is told when it is missing


TAKEDOWN_ELEMENTS = (
    Element("signature", "§512(c)(3)(A)(i)",
            "the signature of the copyright owner or of a person authorised to act for them (type your full name)"),
    Element("work", "§512(c)(3)(A)(ii)", "identification of the copyrighted work claimed to be infringed"),
    Element("material_url", "§512(c)(3)(A)(iii)",
            "identification of the infringing material and where it is: the video's address on this site"),
    Element("contact", "§512(c)(3)(A)(iv)", "your address, telephone number and e-mail address"),
    Element("good_faith", "§512(c)(3)(A)(v)",
            "a statement that you believe in good faith that the use is not authorised by the copyright "
            "owner, its agent, or the law"),
    Element("accurate", "§512(c)(3)(A)(vi)",
            "a statement that the notice is accurate and, under penalty of perjury, that you are authorised "
            "to act on behalf of the owner"),
)

COUNTER_ELEMENTS = (
    Element("signature", "§512(g)(3)(A)", "your physical or electronic signature (type your full name)"),
    Element("material", "§512(g)(3)(B)",
            "identification of the material that was disabled and where it appeared before"),
    Element("mistake", "§512(g)(3)(C)",
            "a statement under penalty of perjury that you believe in good faith the material was disabled "
            "by mistake or misidentification"),
    Element("contact", "§512(g)(3)(D)", "your name, address and telephone number"),
    Element("jurisdiction", "§512(g)(3)(D)",
            "consent to the jurisdiction of the Federal District Court for your address (or, outside the "
            "United States, any judicial district where the service provider may be found), and that you "
            "will accept service of process from the person who sent the notice"),
)


def _present(value) -> bool:
    if isinstance(value, bool):
        return value
    return bool(str(value or "").strip())


def missing(elements: tuple[Element, ...], data: Mapping[str, object]) -> list[Element]:
    """The elements `data` lacks. `contact` needs every part of the address it names."""
    absent = []
    for element in elements:
        if element.field == "contact":
            parts = ("address", "phone", "email") if elements is TAKEDOWN_ELEMENTS else ("name", "address", "phone")
            if not all(_present(data.get(part)) for part in parts):
                absent.append(element)
        elif not _present(data.get(element.field)):
            absent.append(element)
    return absent


def refusal(absent: list[Element]) -> str:
    """The sentence that names what a notice lacks."""
    names = "; ".join(f"{element.text} ({element.statute})" for element in absent)
    return f"This notice is missing what the law requires: {names}."


def _us_holidays(years: range) -> holidays.HolidayBase:
    return holidays.country_holidays("US", years=years)


def is_business_day(day: date, off: holidays.HolidayBase | None = None) -> bool:
    off = off if off is not None else _us_holidays(range(day.year, day.year + 1))
    return day.weekday() < 5 and day not in off


def business_days_after(start: date, count: int) -> date:
    """The `count`-th business day after `start` (the day of receipt itself not counted)."""
    off = _us_holidays(range(start.year, start.year + 2))
    day, counted = start, 0
    while counted < count:
        day += timedelta(days=1)
        if is_business_day(day, off):
            counted += 1
    return day


def restore_window(received: datetime) -> tuple[datetime, datetime]:
    """(earliest, latest) moment material may come back after a counter-notice received at
    `received`: the ends of the 10th and 14th business days after the day it arrived (UTC)."""
    day = received.astimezone(UTC).date()
    return (_end_of(business_days_after(day, RESTORE_AFTER_BUSINESS_DAYS)),
            _end_of(business_days_after(day, RESTORE_BY_BUSINESS_DAYS)))


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
