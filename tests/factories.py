"""One-line builders for users, channels and sessions in tests."""
from __future__ import annotations

import itertools
from datetime import date

from app.auth import services as accounts
from app.extensions import db
from app.models import Category, StreamSession, User, utcnow

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_user(username: str | None = None, *, admin: bool = False, password: str = PASSWORD,
              email: str | None = None, disabled: bool = False) -> User:
    username = username or f"user{next(_counter)}"
    user = accounts.create_account(username, email or f"{username.lower()}@example.com", password,
                                   date(1990, 1, 1), admin=admin)
    if disabled:
        accounts.set_disabled(user, True)
    return user


def make_category(name: str = "Music") -> Category:
    category = Category(slug=name.lower().replace(" ", "-").replace("&", "and"), name=name)
    db.session.add(category)
    db.session.commit()
    return category


def make_live(user: User) -> StreamSession:
    session = StreamSession(channel=user.channel, internal_name=f"s{next(_counter)}")
    user.channel.is_live = True
    user.channel.live_since = utcnow()
    db.session.add(session)
    db.session.commit()
    return session
