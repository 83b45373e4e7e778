"""People and content for the mature-content tests: an adult channel owner, an adult viewer, a
minor (signed in, under 18), a site admin; media under the test's tmp_path."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from app.extensions import db
from app.hls import access
from app.models import StreamSession, User, utcnow
from tests.factories import make_user


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}")
    access.forget()
    with app.app_context():
        yield app
    access.forget()


def make_minor(username: str) -> User:
    user = make_user(username)
    user.adult_from = date(date.today().year + 3, 1, 1)
    db.session.commit()
    return user


@pytest.fixture
def people(app):
    return {"owner": make_user("maker"), "adult": make_user("grownup"), "minor": make_minor("kiddo"),
            "admin": make_user("boss", admin=True)}


def label(channel_or_vod, *, mature: bool = True, labels: tuple[str, ...] = ("gambling", "profanity")):
    channel_or_vod.mature = mature
    channel_or_vod.content_labels = list(labels)
    db.session.commit()
    return channel_or_vod


def live_session(user: User) -> StreamSession:
    session = StreamSession(channel=user.channel, internal_name=f"st-{uuid.uuid4().hex[:16]}",
                            status="live", started_at=utcnow())
    user.channel.is_live = True
    user.channel.live_since = utcnow()
    db.session.add(session)
    db.session.commit()
    return session
