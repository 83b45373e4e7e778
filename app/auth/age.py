"""The age screen at signup: neutral (a free date entry that says nothing of the age it takes), an
age under the minimum refused with no retry from the same browser, and the date checked, not kept.

What an account keeps instead is `User.adult_from`: nothing for an adult, and for a minor the first
day of the month after their 18th birthday (mature content stays closed to them until then: the
month and year, never the day). A refused browser gets a signed cookie for a year; while it has it,
the signup form is not shown again, so changing the date and trying again does not work.
"""
from __future__ import annotations

from datetime import date

from flask import Flask, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

ADULT_AGE = 18
REFUSED_COOKIE = "signup_refused"
REFUSED_SECONDS = 365 * 24 * 3600
REFUSED_MESSAGE = "Sorry, you can't create an account here. Nothing you entered was kept."


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def date_problem(born: date | None, today: date | None = None) -> str | None:
    """Why `born` is no date of birth at all (missing, in the future, before 1900), or None."""
    today = today or date.today()
    if born is None:
        return "Please enter your date of birth."
    if born > today or born.year < 1900:
        return "Please enter a real date of birth."
    return None


def old_enough(born: date, min_age: int, today: date | None = None) -> bool:
    return age_on(born, today or date.today()) >= min_age


def adult_from(born: date, today: date | None = None) -> date | None:
    """What an account keeps of a date of birth: None for an adult, else the first day of the
    month after the 18th birthday."""
    today = today or date.today()
    if age_on(born, today) >= ADULT_AGE:
        return None
    year, month = born.year + ADULT_AGE, born.month + 1
    return date(year + (month > 12), (month - 1) % 12 + 1, 1)


def _signer(app: Flask) -> URLSafeSerializer:
    return URLSafeSerializer(app.secret_key, salt="age-screen")  # type: ignore[arg-type]  # str or bytes


def refuse(app: Flask, response: Response) -> Response:
    """Mark the browser that was refused, for a year (only that it was: no date, no name)."""
    response.set_cookie(REFUSED_COOKIE, _signer(app).dumps(1), max_age=REFUSED_SECONDS, httponly=True,
                        samesite="Lax", secure=app.config["SECURE_COOKIES"])
    return response


def was_refused(app: Flask, request: Request) -> bool:
    value = request.cookies.get(REFUSED_COOKIE)
    if not value:
        return False
    try:
        return _signer(app).loads(value) == 1
    except BadSignature:
        return False
