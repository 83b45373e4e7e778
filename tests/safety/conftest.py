"""People and a chat for the trust-and-safety tests: a channel owner (alice), her moderator (dave),
a chatter (bob), a viewer who reports (carol), and a site admin (root)."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import ChannelRole, ChatMessage
from tests.conftest import mail_config
from tests.factories import make_user
from workers import context


@pytest.fixture
def app(make_app, smtp, monkeypatch):
    """The app every test here runs on: its jobs (statements, outcomes, DMCA steps) mail through
    the test's SMTP server when run_jobs runs them."""
    app = make_app(**mail_config(smtp))
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app


@pytest.fixture
def people(app):
    alice, bob, carol, dave = (make_user(name) for name in ("alice", "bob", "carol", "dave"))
    root = make_user("root", admin=True)
    db.session.add(ChannelRole(channel_id=alice.channel.id, user_id=dave.id, role="moderator"))
    db.session.commit()
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "root": root}


def say(user, channel, text: str) -> ChatMessage:
    message = ChatMessage(channel_id=channel.id, user_id=user.id, text=text)
    db.session.add(message)
    db.session.commit()
    return message


@pytest.fixture
def chat(people):
    """Fifty lines in alice's chat; bob's line 25 is the one to report."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    lines = []
    for number in range(50):
        speaker = bob if number == 25 else (carol if number % 2 else alice)
        lines.append(say(speaker, alice.channel, "you are garbage, leave" if number == 25 else f"line {number}"))
    return lines
