"""Account rules in one place: the signup form, the CLI and tests all go through here."""
from __future__ import annotations

import gzip
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import Channel, Profile, User, utcnow
from . import age, limits, names, sessions

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{2,24}$")
# Names that would collide with our own pages or impersonate the site.
RESERVED_USERNAMES = frozenset("""
    about admin administrator api c cascade dashboard directory help hls hooks healthz live
    login logout mod moderator moderators null owner privacy root search settings signup
    socket socketio staff static support system terms u undefined video videos vod www
""".split())

_hasher = PasswordHasher()


def _off_the_loop(function, *args):
    """Run Argon2 (tens of ms of CPU, with the GIL released) in gevent's thread pool when the
    process is gevent's, so a login does not freeze every chat socket of the web process."""
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)


class AccountError(ValueError):
    """A rule an account change broke; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class TooManyAttempts(AccountError):
    """Too many wrong passwords: nothing was checked; `retry_after` seconds until one may be."""

    def __init__(self, field: str, message: str, retry_after: float):
        super().__init__(field, message)
        self.retry_after = retry_after


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    # The 20,000 most common passwords, the list Django ships (Royce Williams, 2017).
    path = Path(__file__).with_name("common-passwords.txt.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh if line.strip())


def username_problem(username: str) -> str | None:
    if not USERNAME_RE.match(username or ""):
        return ("Usernames are 3–25 characters: letters, digits and underscores, "
                "starting with a letter or digit.")
    if username.lower() in RESERVED_USERNAMES:
        return "That username is reserved. Please pick another."
    return None


def password_problem(password: str, username: str = "", email: str = "") -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords():
        return "That password is on a list of commonly used passwords. Choose something less guessable."
    if (username and lowered == username.lower()) or (email and lowered == email.lower()):
        return "Your password can't be your username or email."
    if len(set(password)) < 4:
        return "That password is too repetitive. Choose something less guessable."
    return None


def normalize_email(email: str) -> str:
    try:
        result = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("email", str(exc)) from exc
    return result.normalized.lower()


def hash_password(password: str) -> str:
    return _off_the_loop(_hasher.hash, password)


def find_user(login: str) -> User | None:
    """Look a user up by username or email, ignoring case."""
    login = (login or "").strip().lower()
    if not login:
        return None
    return db.session.scalar(
        select(User).where(or_(User.username_lower == login, User.email == login))
    )


def username_taken(username: str) -> bool:
    return (db.session.scalar(
        select(func.count()).select_from(User).where(User.username_lower == username.lower())
    ) or 0) > 0


def email_taken(email: str) -> bool:
    return (db.session.scalar(select(func.count()).select_from(User).where(User.email == email)) or 0) > 0


class TooYoung(AccountError):
    """Under the minimum age: the signup page refuses this browser for good (app.auth.age)."""


def create_account(username: str, email: str, password: str, birth_date: date | None,
                   *, admin: bool = False, min_age: int = 13, check_age: bool = True) -> User:
    """Create a user with a profile and a channel named after them, or raise AccountError
    (TooYoung under `min_age`). The date of birth is checked, not kept (app.auth.age)."""
    username = (username or "").strip()
    if problem := username_problem(username):
        raise AccountError("username", problem)
    email = normalize_email(email)
    if problem := password_problem(password, username, email):
        raise AccountError("password", problem)
    if check_age and (problem := age.date_problem(birth_date)):
        raise AccountError("birth_date", problem)
    if username_taken(username):
        raise AccountError("username", "That username is taken.")
    if problem := names.name_problem(username, staff=admin):
        raise AccountError("username", problem)
    if email_taken(email):
        raise AccountError("email", "An account with that email already exists. Try logging in.")
    # Last: a child's refusal is final for the browser, so it must not hide a mistake they could fix.
    if check_age and birth_date is not None and not age.old_enough(birth_date, min_age):
        raise TooYoung("birth_date", age.REFUSED_MESSAGE)
    return add_account(username, email, password,
                       adult_from=age.adult_from(birth_date) if birth_date is not None else None, admin=admin)


def add_account(username: str, email: str, password: str, *, adult_from: date | None = None,
                admin: bool = False) -> User:
    """Insert a user with a profile and a channel named after them, as given: nothing is checked
    (create_account checks first; the tests' factories, which make thousands, call this)."""
    user = User(username=username, email=email, password_hash=hash_password(password),
                adult_from=adult_from, role="admin" if admin else "user")
    user.profile = Profile()
    user.channel = Channel(slug=user.username_lower, tags=[])
    names.remember_names(user)
    db.session.add(user)
    db.session.commit()
    return user


def password_matches(user: User, password: str) -> bool:
    try:
        return _off_the_loop(_hasher.verify, user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_current_password(user: User, password: str, field: str = "current_password") -> None:
    """Raise AccountError (on `field`) unless `password` is the user's. For every settings form
    that asks for the current password: wrong ones count per account like failed logins
    (LOGIN_RATE_LIMIT), and past the limit no password is checked (TooManyAttempts)."""
    if (wait := limits.password_check_wait(user)) is not None:
        raise TooManyAttempts(field, "Too many wrong passwords. Nothing was changed: try again "
                              f"{limits.retry_phrase(wait)}.", wait)
    if not password_matches(user, password):
        limits.count_wrong_password(user)
        raise AccountError(field, "That isn't your current password.")


def authenticate(login: str, password: str) -> User | None:
    """The user these credentials belong to, or None. Upgrades old hashes in passing."""
    user = find_user(login)
    if user is None:
        _off_the_loop(_hasher.hash, password)  # spend the same time whether or not the user exists
        return None
    if not password_matches(user, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def record_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()


def change_password(user: User, current: str, new: str, *, keep_session: str | None = None) -> None:
    """Change the password and end every login of the user but the one `keep_session` names."""
    check_current_password(user, current, "current_password")
    if problem := password_problem(new, user.username, user.email):
        raise AccountError("new_password", problem)
    user.password_hash = hash_password(new)
    db.session.execute(sessions.ending_all(user, keep=keep_session))
    db.session.commit()


def change_email(user: User, password: str, email: str) -> bool:
    """Change the address; True when it is a new one, which then awaits verification."""
    check_current_password(user, password, "password")
    email = normalize_email(email)
    if email == user.email:
        return False
    if email_taken(email):
        raise AccountError("email", "Another account uses that email.")
    user.email = email
    user.email_verified_at = None
    db.session.commit()
    return True


def set_disabled(user: User, disabled: bool) -> None:
    user.disabled = disabled
    if disabled:
        db.session.execute(sessions.ending_all(user))
    db.session.commit()
