"""The /notifications Socket.IO namespace: signed-in users hear their own pushes, nobody else does."""
from __future__ import annotations

import contextvars
import json

import pytest
from redis import Redis

from app.extensions import db, socketio, socketio_channel
from app.follow import services as follow
from app.models import Follow
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.factories import make_user

from .conftest import go_live, run_notify_jobs

NAMESPACE = "/notifications"


def isolated(function, *args, **kwargs):
    return contextvars.Context().run(function, *args, **kwargs)


class Listener:
    """One browser's /notifications socket, carrying its logged-in session cookie."""

    def __init__(self, app, http):
        self.sio = isolated(socketio.test_client, app, namespace=NAMESPACE, flask_test_client=http)

    def received(self) -> list:
        return [(event["name"], event["args"][0]) for event in self.sio.get_received(NAMESPACE)]


@pytest.fixture
def listener(app):
    made = []

    def factory(http):
        made.append(Listener(app, http))
        return made[-1]

    yield factory
    for one in made:
        if one.sio.is_connected(NAMESPACE):
            one.sio.disconnect(NAMESPACE)


def test_anonymous_sockets_are_refused(app, client, listener):
    assert not listener(client).sio.is_connected(NAMESPACE)


def test_followers_socket_receives_the_push_and_others_do_not(app, streamer, login, listener):
    alice, key = streamer
    bob, _ = make_user("bob"), make_user("carol")
    db.session.add(Follow(follower_id=bob.id, channel_id=alice.channel.id))
    db.session.commit()
    bob_socket, carol_socket, alice_socket = (listener(login(name)) for name in ("bob", "carol", "alice"))
    assert bob_socket.sio.is_connected(NAMESPACE)
    # Each connect starts with the count as it stands, so a reconnecting bell is never stale.
    for socket in (bob_socket, carol_socket, alice_socket):
        assert socket.received() == [("notification", {"unread": 0})]

    go_live(key)
    run_notify_jobs()
    [(name, data)] = bob_socket.received()
    assert name == "notification" and data["unread"] == 1 and data["channel"] == "alice"
    assert "<strong>alice</strong> is live" in data["html"] and 'href="/c/alice"' in data["html"]
    assert carol_socket.received() == [] and alice_socket.received() == []

    follow.mark_all_read(bob.id)
    assert bob_socket.received() == [("notification", {"unread": 0})]


def test_a_reconnecting_socket_hears_the_unread_count_it_missed(app, streamer, login, listener):
    alice, key = streamer
    bob = make_user("bob")
    db.session.add(Follow(follower_id=bob.id, channel_id=alice.channel.id))
    db.session.commit()
    http = login("bob")
    first = listener(http)
    first.sio.disconnect(NAMESPACE)  # asleep while the channel goes live
    go_live(key)
    run_notify_jobs()
    again = listener(http)
    assert again.received() == [("notification", {"unread": 1})]


@pytest.fixture
def queued_app(make_app):
    """An app whose emits go through the Redis message queue, as the web app's and workers' do."""
    app = make_app(SOCKETIO_USE_QUEUE=True)
    with app.app_context():
        yield app


def test_a_workers_push_is_published_on_the_message_queue(queued_app):
    # Socket.IO's test client refuses a message queue, so listen where every web process does.
    from app.channels import services as channels

    alice, bob = make_user("alice"), make_user("bob")
    key = channels.rotate_stream_key(alice.channel)
    db.session.add(Follow(follower_id=bob.id, channel_id=alice.channel.id))
    db.session.commit()
    with Redis.from_url(TEST_REDIS_URL) as redis, redis.pubsub(ignore_subscribe_messages=True) as bus:
        bus.subscribe(socketio_channel(queued_app.config))
        wait_for(lambda: bus.get_message(timeout=0.1) is None, 5, "the subscription")
        go_live(key)
        run_notify_jobs()
        def notification():
            # The page push that the stream plays ("live", to the chat room) goes out first.
            message = bus.get_message(timeout=0.5)
            found = json.loads(message["data"]) if message else None
            return found if found and found.get("event") == "notification" else None
        published = wait_for(notification, 10, "a published push")
    assert published["method"] == "emit" and published["event"] == "notification"
    assert published["namespace"] == NAMESPACE and published["room"] == f"user:{bob.id}"
    assert published["data"][0]["unread"] == 1



def test_opening_the_list_tells_the_users_other_pages(app, streamer, login, listener):
    from tests.conftest import csrf_from, page_text

    from .test_notifications import notified, shown_ids

    bob, carol = make_user("bob"), make_user("carol")
    notified(streamer, bob, carol, times=2)
    client = login("bob")
    bob_elsewhere, carol_socket = listener(login("bob")), listener(login("carol"))
    bob_elsewhere.received(), carol_socket.received()  # the counts sent on connect
    page = page_text(client.get("/notifications"))
    ids, token = shown_ids(page), csrf_from(page)

    client.post("/notifications/read", data={"id": ids[:1]}, headers={"X-CSRFToken": token})
    assert bob_elsewhere.received() == [("notification", {"unread": 1})]
    client.post("/notifications/read", data={"id": ids}, headers={"X-CSRFToken": token})
    assert bob_elsewhere.received() == [("notification", {"unread": 0})]
    assert carol_socket.received() == []
    assert follow.unread_count(carol.id) == 2
