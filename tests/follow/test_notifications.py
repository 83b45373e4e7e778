"""Going live notifies each follower once per session; the bell's count and the notifications page."""
from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.follow import services as follow
from app.models import Follow, Notification, utcnow
from app.streams import services as streams
from tests.conftest import csrf_from, page_text
from tests.factories import make_user

from .conftest import go_live, queued_notify_jobs, run_notify_jobs


def followed_by(channel, *users):
    for user in users:
        db.session.add(Follow(follower_id=user.id, channel_id=channel.id))
    db.session.commit()


def notifications_of(user) -> list[Notification]:
    db.session.expire_all()
    return db.session.query(Notification).filter_by(user_id=user.id).all()


def test_going_live_notifies_each_follower_once_per_session(app, streamer):
    alice, key = streamer
    bob, carol, dave = make_user("bob"), make_user("carol"), make_user("dave", disabled=True)
    make_user("erin")  # follows no one
    followed_by(alice.channel, bob, carol, dave)
    db.session.add(Follow(follower_id=alice.id, channel_id=alice.channel.id))  # an old row the rules now refuse
    db.session.commit()

    session = go_live(key)
    assert queued_notify_jobs() == [(session.id,)]
    assert run_notify_jobs() == 2
    assert follow.notify_followers(session.id) == 0  # the job is safe to run twice
    assert [n.session_id for n in notifications_of(bob)] == [session.id]
    assert len(notifications_of(carol)) == 1
    assert notifications_of(alice) == [] and notifications_of(dave) == []

    # The publisher drops and comes back within the grace period: the same broadcast, no new notice.
    streams.publisher_left(session)
    assert go_live(key).id == session.id
    assert queued_notify_jobs() == []
    assert len(notifications_of(bob)) == 1

    # After the grace period it is a new session, and a new notice.
    streams.publisher_left(session)
    session.publisher_left_at = utcnow() - timedelta(seconds=31)
    db.session.commit()
    again = go_live(key)
    assert again.id != session.id and queued_notify_jobs() == [(again.id,)]
    assert run_notify_jobs() == 2
    assert follow.unread_count(bob.id) == 2


def test_a_channel_without_followers_queues_nothing(app, streamer):
    _, key = streamer
    go_live(key)
    assert queued_notify_jobs() == []


def test_bell_count_notifications_page_and_mark_all_read(app, streamer, login):
    alice, key = streamer
    bob = make_user("bob")
    followed_by(alice.channel, bob)
    first = go_live(key)
    run_notify_jobs()
    streams.end_session(first)
    go_live(key)
    run_notify_jobs()
    client = login("bob")

    page = page_text(client.get("/"))
    assert 'aria-label="Notifications, 2 unread"' in page
    assert "data-unread-badge >2</span>" in page or ">2</span>" in page
    body = page_text(client.get("/notifications"))
    assert body.count('href="/c/alice"') >= 2 and body.count("is-unread") == 2
    ids = [n.id for n in follow.recent_notifications(bob.id)]
    assert ids == sorted(ids, reverse=True)

    fragment = page_text(client.get("/notifications", headers={"HX-Request": "true"}))
    assert fragment.lstrip().startswith("{# ") is False and '<section class="notifications" id="notifications">' in fragment
    assert "<html" not in fragment

    token = csrf_from(body)
    fragment = page_text(client.post("/notifications/read", headers={"HX-Request": "true", "X-CSRFToken": token}))
    assert "is-unread" not in fragment and "Mark all read" not in fragment
    assert 'id="notification-bell"' in fragment and 'hx-swap-oob="true"' in fragment
    assert follow.unread_count(bob.id) == 0
    assert 'aria-label="Notifications"' in page_text(client.get("/"))

    response = client.post("/notifications/read", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"


def test_notifications_need_a_login_and_the_bell_is_only_for_members(app, client):
    assert client.get("/notifications").status_code == 302
    assert "notification-bell" not in page_text(client.get("/"))
    assert "notifications.js" not in page_text(client.get("/"))


def test_empty_notifications_page(app, login):
    make_user("bob")
    body = page_text(login("bob").get("/notifications"))
    assert "No notifications yet" in body and "Mark all read" not in body
