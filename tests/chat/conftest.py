"""Chat fixtures: Socket.IO test clients that carry a logged-in user's session cookie, and verdict()
for the text checks' tests."""
from __future__ import annotations

import contextvars

import pytest

from app.chat.policy import ChatPolicy, check_message
from app.extensions import db, socketio
from app.models import ChannelRole
from tests.conftest import Actions
from tests.factories import PASSWORD, make_user

QUIET = "off"  # automod level for tests about something else


def never_toxic(text: str) -> float:
    return 0.0


def verdict(text, *, recent=(), scorer=never_toxic, **policy):
    """The verdict on one message under a policy built from keywords; automod off unless named."""
    policy.setdefault("automod_level", QUIET)
    return check_message(text, ChatPolicy(**policy), recent=recent, scorer=scorer)


def isolated(function, *args, **kwargs):
    return contextvars.Context().run(function, *args, **kwargs)


class ChatClient:
    """One browser: a Flask test client (cookies) and a Socket.IO client on /chat sharing them."""

    def __init__(self, app, username: str | None = None):
        self.buffer: list = []
        self.http = app.test_client()
        if username:
            response = Actions(self.http).login(username, PASSWORD)
            assert response.status_code == 303, "login failed"
        # Like IsolatedClient: each socket event runs in a fresh context, so the logged-in user
        # cached on `g` never leaks between clients (or from the test) as it cannot in production.
        self.sio = isolated(socketio.test_client, app, namespace="/chat", flask_test_client=self.http)
        assert self.sio.is_connected("/chat")

    def emit(self, event: str, data, callback: bool = True):
        return isolated(self.sio.emit, event, data, namespace="/chat", callback=callback)

    def join(self, channel: str, after: int | None = None) -> dict:
        data = {"channel": channel}
        if after is not None:
            data["after"] = after
        return self.emit("join", data)

    def send(self, channel: str, text) -> dict:
        return self.emit("send", {"channel": channel, "text": text})

    def events(self, name: str | None = None) -> list:
        """Events received so far (and not yet taken): all as (name, data), or the data of one kind."""
        for event in self.sio.get_received("/chat"):
            args = event["args"]
            if isinstance(args, list):
                args = args[0] if args else None
            self.buffer.append((event["name"], args))
        if name is None:
            taken, self.buffer = self.buffer, []
            return taken
        taken = [data for kind, data in self.buffer if kind == name]
        self.buffer = [(kind, data) for kind, data in self.buffer if kind != name]
        return taken

    def post(self, path: str, data: dict | None = None, token_from: str = "/dashboard"):
        return Actions(self.http).post(path, data, token_from=token_from)


@pytest.fixture
def chat_client(app):
    made = []

    def factory(username: str | None = None) -> ChatClient:
        client = ChatClient(app, username)
        made.append(client)
        return client

    yield factory
    for client in made:
        if client.sio.is_connected("/chat"):
            client.sio.disconnect("/chat")


@pytest.fixture
def streamer(app):
    return make_user("streamer")


@pytest.fixture
def cast(app, streamer, chat_client):
    """The owner, a moderator, a viewer and an anonymous reader, all in the streamer's chat."""
    mod_user = make_user("mia")
    bob_user = make_user("bob")
    db.session.add(ChannelRole(channel_id=streamer.channel.id, user_id=mod_user.id, role="moderator"))
    db.session.commit()
    people = {"owner": chat_client(streamer.username), "mod": chat_client("mia"),
              "bob": chat_client("bob"), "anon": chat_client()}
    for client in people.values():
        assert client.join(streamer.username)["ok"]
    people["ids"] = {"mod": mod_user.id, "bob": bob_user.id, "owner": streamer.id,
                     "channel": streamer.channel.id}
    return people
