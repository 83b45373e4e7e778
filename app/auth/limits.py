"""How often someone may sign up, log in or type a current password, and what they see past it.

Signups count per address, and only the accounts made: a form sent back with field errors
costs nothing, so a meetup of twenty behind one address can all join (SIGNUP_RATE_LIMIT),
while a generous limit on every signup post stops a flood of tries (SIGNUP_ATTEMPT_RATE_LIMIT).

Failed logins count per address and per account (LOGIN_RATE_LIMIT each). The per-account count
is for guessing spread over many addresses, so it would lock the real owner out too; a browser
that has logged in to the account before is spared it (OWASP's "device cookie"): a signed
cookie, set at each login, that names the account and a fingerprint of its password hash, so a
password change revokes it. That browser is still held to its address's limit.

A new browser (a new phone, a private window) is not known, so past the per-account limit its
login answers 429 whatever the password. The owner is not stuck there: the password is still
checked (so a right and a wrong one take about as long), and when it was right and the account
has a verified address a one-time sign-in link is mailed to it (app.auth.recovery). The page says
the same either way, so a guesser learns nothing from it; only the owner's inbox does. Those
mails are limited per account (LOGIN_LINK_MAIL_LIMIT), so nobody who knows the password can flood it.

A wrong current password in settings counts like a failed login, per account.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse_many

from ..extensions import limiter
from ..models import User

log = logging.getLogger(__name__)

KNOWN_BROWSER_COOKIE = "cascade_known_logins"
KNOWN_BROWSER_DAYS = 365
KNOWN_ACCOUNTS_MAX = 5  # accounts one shared browser vouches for
LOGIN_LINK_MAIL_LIMIT = "3 per 15 minutes"


def retry_phrase(seconds: float) -> str:
    """'in 40 seconds', 'in 12 minutes', 'in 2 hours': when a limited person may try again."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return f"in {seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"in {minutes} minute{'' if minutes == 1 else 's'}"
    hours = math.ceil(minutes / 60)
    return f"in {hours} hours"


def seconds_until(reset_at: float) -> float:
    return max(1.0, reset_at - time.time())


# --- browsers that have logged in before -----------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-login-browser")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _known() -> list[list]:
    cookie = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not cookie:
        return []
    try:
        entries = _serializer().loads(cookie, max_age=KNOWN_BROWSER_DAYS * 86400)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, list) and len(entry) == 2][:KNOWN_ACCOUNTS_MAX]


def browser_knows(user: User | None) -> bool:
    """True when this browser logged in to `user` before, since their last password change."""
    return user is not None and [user.id, _fingerprint(user)] in _known()


def remember_browser(response, user: User):
    """After a login or signup: this browser may log in to `user` past the per-account limit."""
    entries = [[user.id, _fingerprint(user)]] + [entry for entry in _known() if entry[0] != user.id]
    response.set_cookie(
        KNOWN_BROWSER_COOKIE, _serializer().dumps(entries[:KNOWN_ACCOUNTS_MAX]),
        max_age=KNOWN_BROWSER_DAYS * 86400, path=url_for("auth.login"), httponly=True, samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


# --- current-password checks -----------------------------------------------------------------

def _password_check_limits():
    return parse_many(current_app.config["LOGIN_RATE_LIMIT"])


def _password_check_key(user: User) -> tuple[str, ...]:
    return (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "password-check", str(user.id))


def password_check_wait(user: User) -> float | None:
    """Seconds until `user` may have a current password checked again; None when they may now."""
    if not limiter.enabled:
        return None
    try:
        strategy = limiter.limiter
        for item in _password_check_limits():
            if not strategy.test(item, *_password_check_key(user)):
                return seconds_until(strategy.get_window_stats(item, *_password_check_key(user)).reset_time)
    except Exception:  # the limiter's storage failing must not lock anybody out of settings
        log.exception("could not read the current-password limit; the check goes ahead")
    return None


def count_wrong_password(user: User) -> None:
    if not limiter.enabled:
        return
    try:
        for item in _password_check_limits():
            limiter.limiter.hit(item, *_password_check_key(user))
    except Exception:
        log.exception("could not count a wrong current password")


# --- one-time sign-in links ------------------------------------------------------------------

def may_mail_login_link(user: User) -> bool:
    """Count a sign-in link mail to `user`; False once LOGIN_LINK_MAIL_LIMIT is used up."""
    if not limiter.enabled:
        return True
    key = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "login-link-mail", str(user.id))
    try:
        return all(limiter.limiter.hit(item, *key) for item in parse_many(LOGIN_LINK_MAIL_LIMIT))
    except Exception:  # the limiter's storage failing must not keep the owner's link from them
        log.exception("could not count a sign-in link mail; it is sent")
        return True
