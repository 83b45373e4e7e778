"""Signed, expiring links mailed to account owners: password reset, one-time sign-in and address
verification.

Nothing is stored: a link is the user's id signed with SECRET_KEY (itsdangerous) and a
fingerprint of what it may change. A reset link carries the password hash's fingerprint, so it
dies once used and whenever the password changes; a sign-in link also fingerprints the time of
the account's last login, which signing in with it moves on, so it works once (and any login,
with the password or another link, ends it); a verification link names the address it
verifies, so it dies when the address changes."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..models import User

RESET_MAX_AGE = timedelta(hours=1)
LOGIN_LINK_MAX_AGE = timedelta(minutes=15)
VERIFY_MAX_AGE = timedelta(days=7)
_RESET = "password-reset"
_LOGIN_LINK = "login-link"
_VERIFY = "verify-email"


class LinkError(ValueError):
    """A link that cannot be used; `reason` is one of expired, used, changed, invalid."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def _password_fingerprint(user: User) -> str:
    # The hash is salted, so setting even the same password again gives a new fingerprint.
    return hashlib.sha256(f"{user.password_hash}\0{user.email}".encode()).hexdigest()[:32]


def _load(purpose: str, token: str, max_age: timedelta) -> tuple[User, dict]:
    try:
        payload = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as error:
        raise LinkError("expired") from error
    except BadSignature as error:
        raise LinkError("invalid") from error
    user_id = payload.get("u") if isinstance(payload, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.disabled:
        raise LinkError("invalid")
    return user, payload


def reset_token(user: User) -> str:
    return _serializer(_RESET).dumps({"u": user.id, "f": _password_fingerprint(user)})


def user_for_reset(token: str) -> User:
    """The user a reset link is for, or LinkError."""
    user, payload = _load(_RESET, token, RESET_MAX_AGE)
    if payload.get("f") != _password_fingerprint(user):
        raise LinkError("used")
    return user


def _login_fingerprint(user: User) -> str:
    last_login = user.last_login_at.isoformat() if user.last_login_at else ""
    return hashlib.sha256(f"{_password_fingerprint(user)}\0{last_login}".encode()).hexdigest()[:32]


def login_link_token(user: User) -> str:
    return _serializer(_LOGIN_LINK).dumps({"u": user.id, "f": _login_fingerprint(user)})


def user_for_login_link(token: str) -> User:
    """The user a one-time sign-in link is for, or LinkError ("used" once anyone has logged in to
    the account since it was made, or the password or address has changed)."""
    user, payload = _load(_LOGIN_LINK, token, LOGIN_LINK_MAX_AGE)
    if payload.get("f") != _login_fingerprint(user):
        raise LinkError("used")
    return user


def verify_token(user: User) -> str:
    return _serializer(_VERIFY).dumps({"u": user.id, "e": user.email})


def user_for_verification(token: str) -> User:
    """The user a verification link is for, while the address it names is still theirs."""
    user, payload = _load(_VERIFY, token, VERIFY_MAX_AGE)
    if payload.get("e") != user.email:
        raise LinkError("changed")
    return user
