"""The /dashboard Socket.IO namespace: the owner's open dashboards hear their stream change at once
(starting, live, reconnecting, offline or stopped), and nobody else does."""
from __future__ import annotations

import contextvars
import json

import pytest
from redis import Redis

from app.extensions import db, socketio, socketio_channel
from app.live.owner import NAMESPACE, owner_room
from app.models import StreamSession
from app.streams import services as streams
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("ingest_control")  # Stop asks the ingest server to drop


def isolated(function, *args, **kwargs):
    return contextvars.Context().run(function, *args, **kwargs)


class Dashboard:
    """One open dashboard's /dashboard socket, carrying its browser's session cookie."""

    def __init__(self, app, http):
        self.sio = isolated(socketio.test_client, app, namespace=NAMESPACE, flask_test_client=http)

    def heard(self) -> list:
        return [(event["name"], event["args"][0]) for event in self.sio.get_received(NAMESPACE)]


@pytest.fixture
def dashboard(app):
    opened = []

    def factory(http):
        opened.append(Dashboard(app, http))
        return opened[-1]

    yield factory
    for one in opened:
        if one.sio.is_connected(NAMESPACE):
            one.sio.disconnect(NAMESPACE)


def test_anonymous_sockets_are_refused(client, dashboard):
    assert not dashboard(client).sio.is_connected(NAMESPACE)


def test_the_owner_hears_every_change_and_nobody_else_does(app, login, dashboard):
    alice, _ = make_user("alice"), make_user("bob")
    key = streams.rotate_stream_key(alice.channel)
    owner, elsewhere, bob = dashboard(login("alice")), dashboard(login("alice")), dashboard(login("bob"))
    # Every (re)connect starts with the status as it is now.
    assert owner.heard() == elsewhere.heard() == [("stream", {"status": "offline"})]
    assert bob.heard() == [("stream", {"status": "offline"})]

    session = streams.go_live(key, ingest="nginx", client_id="1")  # the publish hook
    assert owner.heard() == elsewhere.heard() == [("stream", {"status": "starting"})]
    assert streams.mark_playable(session.id, 0)  # a live host: viewers can play it
    assert owner.heard() == [("stream", {"status": "live"})]
    streams.publisher_left(db.session.get(StreamSession, session.id))
    assert owner.heard() == [("stream", {"status": "reconnecting"})]
    session = streams.go_live(key, ingest="nginx", client_id="2")  # back within the grace
    assert owner.heard() == [("stream", {"status": "starting"})]
    streams.drop_publisher(alice.channel)  # Stop, with its cool-down
    assert owner.heard() == [("stream", {"status": "stopped"})]
    assert bob.heard() == []


def test_a_reconnecting_dashboard_hears_what_it_missed(app, login, dashboard):
    alice = make_user("alice")
    key = streams.rotate_stream_key(alice.channel)
    http = login("alice")
    first = dashboard(http)
    first.sio.disconnect(NAMESPACE)  # a laptop asleep while OBS connects
    session = streams.go_live(key, ingest="nginx", client_id="1")
    streams.mark_playable(session.id, 0)
    assert dashboard(http).heard() == [("stream", {"status": "live"})]


@pytest.fixture
def queued_app(make_app):
    """An app whose emits go through the Redis message queue, as the web's and live hosts' do."""
    app = make_app(SOCKETIO_USE_QUEUE=True)
    with app.app_context():
        yield app


def test_a_live_hosts_push_goes_out_on_the_message_queue(queued_app):
    # mark_playable runs on a live host, another process: its push reaches the web processes
    # through Redis. Socket.IO's test client refuses a message queue, so listen where they do.
    alice = make_user("alice")
    key = streams.rotate_stream_key(alice.channel)
    session = streams.go_live(key, ingest="nginx", client_id="1")
    with Redis.from_url(TEST_REDIS_URL) as redis, redis.pubsub(ignore_subscribe_messages=True) as bus:
        bus.subscribe(socketio_channel(queued_app.config))
        wait_for(lambda: bus.get_message(timeout=0.1) is None, 5, "the subscription")
        streams.mark_playable(session.id, 0)

        def pushed():
            message = bus.get_message(timeout=0.5)
            found = json.loads(message["data"]) if message else None
            return found if found and found.get("namespace") == NAMESPACE else None
        published = wait_for(pushed, 10, "the owner's push")
    assert published["method"] == "emit" and published["event"] == "stream"
    assert published["room"] == owner_room(alice.channel.id) and published["data"][0] == {"status": "live"}
