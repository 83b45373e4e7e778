"""Typed settings read from the environment: a bad value is a ConfigError naming the variable.

app/config.py reads every typed setting through `setting` (or one of the readers built on it), so
a typo such as `LIVE_HOST_CORES=two` stops each process at start (flask commands, gunicorn, the
workers) with one line saying which variable and what form it takes, rather than a bare
ValueError from deep inside a process, or a value quietly read as something else.
"""
from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

TRUE = frozenset({"1", "true", "yes", "on"})
# Empty is false, as it always was: `MAIL_USE_TLS=` in .env switches it off.
FALSE = frozenset({"0", "false", "no", "off", ""})
SHOWN_CHARS = 80  # of a bad value, in the message


class ConfigError(ValueError):
    """A variable in the environment whose value is not of its setting's form."""

    def __init__(self, name: str, expected: str, shown: str) -> None:
        self.name = name
        super().__init__(f'{name} must be {expected}, got "{shown}"')


def _shown(value: str) -> str:
    """A bad value as the message quotes it: without a URL's password (a DATABASE_URL's or a
    REDIS_URL's must not reach a log), and not endlessly long."""
    try:
        parts = urlsplit(value)
        if parts.password is not None:
            value = value.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        pass
    return value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"


def setting(name: str, default: T, parse: Callable[[str], T], expected: str, *,
            blank_is_default: bool = False) -> T:
    """The variable `name` as `parse` reads it (surrounding blanks dropped); `default` when it is
    unset, or set but blank if `blank_is_default`. `parse` raises ValueError for a value it
    refuses; the ConfigError then says the variable must be `expected` ("a whole number", "one of
    nginx, srs"). A blank value is refused where it always failed (`RTMP_PORT=`, `DATABASE_URL=`):
    quietly falling back to the default there would hide a mistake."""
    raw = os.environ.get(name)
    if raw is None or (blank_is_default and not raw.strip()):
        return default
    try:
        return parse(raw.strip())
    except ValueError:
        raise ConfigError(name, expected, _shown(raw)) from None


def whole_number(name: str, default: int, *, blank_is_default: bool = False) -> int:
    return setting(name, default, int, "a whole number", blank_is_default=blank_is_default)


def _positive(value: str) -> int:
    whole = int(value)
    if whole < 1:
        raise ValueError(value)
    return whole


def positive_whole_number(name: str, default: int) -> int:
    return setting(name, default, _positive, "a whole number, 1 or more")


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def number(name: str, default: float, *, blank_is_default: bool = False) -> float:
    return setting(name, default, _finite, "a number", blank_is_default=blank_is_default)


def _flag(value: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ValueError(value)


def _set_but_blank(name: str) -> str | None:
    """The value of `name` when it is set to nothing (or blanks), which some settings read as a
    value of their own ("no networks", "false") rather than as their default."""
    raw = os.environ.get(name)
    return raw if raw is not None and not raw.strip() else None


def flag(name: str, default: bool) -> bool:
    """true/false, 1/0, yes/no or on/off, in any case; set but empty is false."""
    if _set_but_blank(name) is not None:
        return False
    return setting(name, default, _flag, "true or false (or 1/0, yes/no, on/off)")


def one_of(name: str, default: str, choices: Sequence[str], normalize: Callable[[str], str] = str, *,
           blank_is_default: bool = False) -> str:
    """One of `choices`, compared after `normalize` (str.upper for log levels)."""
    def choose(value: str) -> str:
        value = normalize(value)
        if value not in choices:
            raise ValueError(value)
        return value

    return setting(name, default, choose, "one of " + ", ".join(choices), blank_is_default=blank_is_default)


def url(name: str, default: str, schemes: Sequence[str], *, host: bool = True,
        blank_is_default: bool = False) -> str:
    """A URL with one of `schemes` (and a host, unless `host` is false: unix:///path has none)."""
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in schemes or (host and not parts.hostname):
            raise ValueError(value)
        return value

    starts = [f"{scheme}://" for scheme in schemes]
    forms = ", ".join(starts[:-1]) + " or " + starts[-1] if len(starts) > 1 else starts[0]
    return setting(name, default, check, f"a URL starting {forms}" + (" with a host" if host else ""),
                   blank_is_default=blank_is_default)


def sqlalchemy_url(name: str, default: str) -> str:
    """An SQLAlchemy database URL (postgresql://user:password@host/db, sqlite:///path)."""
    def check(value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError as error:
            raise ValueError(value) from error
        return value

    return setting(name, default, check,
                   "a database URL such as postgresql://user:password@host/db or sqlite:///path")


def rate_limits(name: str, default: str) -> str:
    """Flask-Limiter's rate limits, as it parses them: "5 per minute;30 per hour"."""
    blank = _set_but_blank(name)  # no limit, as Flask-Limiter reads it
    if blank is not None:
        return blank

    def check(value: str) -> str:
        from limits import parse_many

        parse_many(value)  # ValueError when it cannot
        return value

    return setting(name, default, check, 'rate limits such as "5 per minute;30 per hour"')


def networks(name: str, default: str) -> str:
    """Comma-separated IP networks or addresses, read as app.chat.events reads them; set but
    empty is none at all."""
    blank = _set_but_blank(name)
    if blank is not None:
        return blank

    def check(value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
        return value

    return setting(name, default, check, "comma-separated networks such as 127.0.0.0/8,::1/128")


@contextmanager
def exit_on_config_error() -> Iterator[None]:
    """Around the first import of app.config in a process: a ConfigError ends the process with
    its one-line message and exit status 1, instead of a traceback (SystemExit passes through
    the `except Exception` of flask's CLI, gunicorn's config loader and the workers)."""
    try:
        yield
    except ConfigError as error:
        raise SystemExit(f"CONFIG ERROR: {error} (set in the environment or in .env)") from None
