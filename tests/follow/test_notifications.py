"""Going live notifies each follower once per session; the bell's count and the notifications page."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.follow import services as follow
from app.models import Follow, Notification, utcnow
from app.streams import services as streams
from tests.conftest import csrf_from, page_text
from tests.factories import make_user

from .conftest import go_live, queued_notify_jobs, run_notify_jobs

# Notifying is INSERT ... SELECT ... RETURNING under a unique constraint; ids out of range.
pytestmark = pytest.mark.both_databases


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
    assert fragment.lstrip().startswith("{# ") is False
    assert '<section class="notifications" id="notifications">' in fragment
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


def notified(alice_key, *followers, times=1):
    """Each follower gets `times` "is live" notifications from alice's channel."""
    alice, key = alice_key
    followed_by(alice.channel, *followers)
    for _ in range(times):
        session = go_live(key)
        run_notify_jobs()
        streams.end_session(session)


def shown_ids(page: str) -> list[int]:
    """The ids the list posts back once loaded (its self-submitting form)."""
    import re

    form = re.search(r"<form hidden [^>]*data-mark-shown-read.*?</form>", page, re.S)
    assert form, "the list has no mark-read-on-open form"
    assert 'hx-trigger="load"' in form.group(0) and 'hx-post="/notifications/read"' in form.group(0)
    return [int(i) for i in re.findall(r'name="id" value="(\d+)"', form.group(0))]


def test_opening_the_list_marks_the_shown_notifications_read(app, streamer, login):
    bob = make_user("bob")
    notified(streamer, bob, times=2)
    client = login("bob")

    page = page_text(client.get("/notifications"))
    assert follow.unread_count(bob.id) == 2  # a GET alone changes nothing
    ids = shown_ids(page)
    assert sorted(ids) == sorted(n.id for n in notifications_of(bob))

    token = csrf_from(page)
    response = client.post("/notifications/read", data={"id": ids},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    fragment = page_text(response)
    assert 'id="notification-bell"' in fragment and 'hx-swap-oob="true"' in fragment
    assert 'aria-label="Notifications"' in fragment and "data-unread-badge hidden>0</span>" in fragment
    assert follow.unread_count(bob.id) == 0
    # After a reload the bell stays at zero and the list has nothing left to mark.
    assert 'aria-label="Notifications"' in page_text(client.get("/"))
    assert "data-mark-shown-read" not in page_text(client.get("/notifications"))


def test_opening_the_list_marks_only_what_it_showed_and_only_your_own(app, streamer, login):
    bob, carol = make_user("bob"), make_user("carol")
    notified(streamer, bob, carol)
    client = login("bob")
    page = page_text(client.get("/notifications"))
    ids = shown_ids(page)
    [carols] = [n.id for n in notifications_of(carol)]
    notified_later = go_live(streamer[1])  # a new notice arrives while the list is open
    run_notify_jobs()
    assert follow.unread_count(bob.id) == 2

    response = client.post("/notifications/read", data={"id": ids + [carols]},
                           headers={"X-CSRFToken": csrf_from(page)})
    assert response.status_code == 303
    assert follow.unread_count(bob.id) == 1  # the one that arrived meanwhile
    assert [n.session_id for n in notifications_of(bob) if n.unread] == [notified_later.id]
    # Someone else's id in the form changes nothing.
    assert carols in [n.id for n in notifications_of(carol) if n.unread]
    assert follow.unread_count(carol.id) == 2


def test_marking_the_shown_notifications_needs_csrf_and_real_ids(app, streamer, login):
    bob = make_user("bob")
    notified(streamer, bob)
    client = login("bob")
    page = page_text(client.get("/notifications"))
    ids = shown_ids(page)
    assert client.post("/notifications/read", data={"id": ids}).status_code == 400  # no CSRF token
    for bad in (["abc"], ["-1"], ["0"], [str(10**30)], [str(2**31)], ["١٢"], [str(ids[0])] * 51):
        response = client.post("/notifications/read", data={"id": bad}, headers={"X-CSRFToken": csrf_from(page)})
        assert response.status_code == 400, bad
    assert follow.unread_count(bob.id) == 1

