"""Logins kept on the server: begun at login, checked on every request, ended at logout,
by "sign out everywhere" and by a password change."""
from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import cast

from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import LoginSession, User, utcnow
from ..models.login_session import USER_AGENT_LENGTH, hash_session_token

log = logging.getLogger(__name__)

# last_seen_at is for the user's list of sessions, not an audit trail: a write per minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


def begin(user: User, user_agent: str = "") -> str:
    """Record a new login of `user` and give `user` its token (so `get_id()` names it)."""
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, token_hash=hash_session_token(token),
                                user_agent=(user_agent or "")[:USER_AGENT_LENGTH]))
    db.session.commit()
    user.session_token = token
    return token


def _row(token: str) -> LoginSession | None:
    return db.session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_session_token(token)))


def user_for_cookie(cookie_id: str) -> User | None:
    """The user a session or remember cookie's id ("<user id>:<token>") names, if that login has
    not ended and the account is not disabled; None otherwise, also when the database is away
    (the visitor is anonymous for that request rather than shown an error page)."""
    user_id, _, token = (cookie_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    try:
        row = _row(token)
        if row is None or row.user_id != int(user_id):
            return None
        _touch(row)
        user = db.session.get(User, row.user_id)
        if user is None or user.disabled:
            return None
    except SQLAlchemyError as error:
        log.warning("could not check a login session (%s: %s); treating the visitor as anonymous",
                    type(error).__name__, error)
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass
        return None
    user.session_token = token
    return user


def _touch(row: LoginSession) -> None:
    now = utcnow()
    if now - row.last_seen_at < TOUCH_EVERY:
        return
    # The user is loaded when a request first asks for it, possibly mid-way through the
    # request's own changes: commit only a session that holds none of them.
    session = db.session
    if session.new or session.dirty or session.deleted:
        return
    row_id = row.id
    try:
        session.execute(update(LoginSession).where(LoginSession.id == row_id).values(last_seen_at=now))
        session.commit()
    except SQLAlchemyError as error:  # e.g. SQLite busy: the login is still good, only not touched
        session.rollback()
        log.info("could not note that login session %s was seen: %s", row_id, error)


def end(token: str | None) -> None:
    """End one login (logging out): its session cookie and remember cookie stop working."""
    if not token:
        return
    db.session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_session_token(token)))
    db.session.commit()


def ending_all(user: User, *, keep: str | None = None):
    """The DELETE that ends every login of `user` but `keep`'s, for a service to run in its own
    transaction (a password change and the end of the other logins commit together).

    Every caller ends logins through here (password change and reset, sign out everywhere,
    deletion, suspension), so this is also where the user's open staff-room sockets are
    dropped: a chat socket is not tied to a login, so all of them go, and the page still
    signed in gets the staff room back when it joins again."""
    from ..chat.services import drop_from_every_staff_room  # chat imports auth's models first

    drop_from_every_staff_room(user.id)
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep:
        statement = statement.where(LoginSession.token_hash != hash_session_token(keep))
    return statement


def end_all(user: User, *, keep: str | None = None) -> int:
    """End every login of `user`, except the one whose token is `keep`; how many ended."""
    ended = cast(CursorResult, db.session.execute(ending_all(user, keep=keep))).rowcount
    db.session.commit()
    return ended


def longest_cookie_life(app: Flask) -> timedelta:
    """How long after its last request a login can still come back: a remember cookie lives
    REMEMBER_COOKIE_DURATION (not refreshed), and Flask refuses a session cookie signed longer
    ago than its permanent_session_lifetime, and every request that uses a login notes it was seen."""
    remember = app.config["REMEMBER_COOKIE_DURATION"]  # seconds or a timedelta, as Flask-Login takes it
    if not isinstance(remember, timedelta):
        remember = timedelta(seconds=remember)
    return max(remember, app.permanent_session_lifetime)


def unused_login_lifetime(app: Flask) -> timedelta:
    """How long a login is kept after it was last seen: `longest_cookie_life`, with TOUCH_EVERY to
    spare (the privacy page states it)."""
    return longest_cookie_life(app) + TOUCH_EVERY


def prune_unused(app: Flask, now=None) -> int:
    """Delete the logins no cookie can still use (unseen for longer than unused_login_lifetime);
    how many. Run hourly by the retention job."""
    cutoff = (now or utcnow()) - unused_login_lifetime(app)
    pruned = cast(CursorResult, db.session.execute(
        delete(LoginSession).where(LoginSession.last_seen_at < cutoff))).rowcount
    db.session.commit()
    return pruned


def of_user(user: User) -> list[LoginSession]:
    """The user's logins, most recently seen first."""
    return list(db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())))


def is_current(row: LoginSession, token: str | None) -> bool:
    if not token:
        return False
    return secrets.compare_digest(row.token_hash, hash_session_token(token))
