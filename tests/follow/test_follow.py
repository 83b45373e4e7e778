"""The follow toggle, follower counts and the Following page."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.follow import services as follow
from app.models import Follow, utcnow
from app.streams import viewers
from tests.conftest import csrf_from, page_text
from tests.factories import make_live, make_user

HTMX = {"HX-Request": "true"}


def token(client, path="/c/alice") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def follows(user, channel) -> bool:
    db.session.expire_all()
    return follow.is_following(user.id, channel.id)


@pytest.mark.both_databases  # following twice meets the unique constraint
def test_plain_form_follows_and_unfollows_idempotently(app, streamer, login):
    alice, _ = streamer
    bob = make_user("bob")
    client = login("bob")
    for _ in range(2):
        response = client.post("/c/alice/follow", data={"csrf_token": token(client)})
        assert response.status_code == 303 and response.headers["Location"] == "/c/alice"
    assert follows(bob, alice.channel) and follow.follower_count(alice.channel.id) == 1
    assert "Following" in page_text(client.get("/c/alice"))
    for _ in range(2):
        response = client.post("/c/alice/follow", data={"csrf_token": token(client), "intent": "unfollow"})
        assert response.status_code == 303
    assert not follows(bob, alice.channel) and follow.follower_count(alice.channel.id) == 0


def test_htmx_toggle_swaps_the_button_with_the_new_count(app, streamer, login):
    alice, _ = streamer
    make_user("bob")
    make_user("carol")
    carol = login("carol")
    carol.post("/c/alice/follow", data={"csrf_token": token(carol)})
    client = login("bob")
    headers = {**HTMX, "X-CSRFToken": token(client)}

    response = client.post("/c/alice/follow", headers=headers)
    body = page_text(response)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert body.lstrip().startswith(f'<div class="follow" id="follow-{alice.channel.id}">')
    assert 'aria-pressed="true"' in body and "2 followers" in body and "hx-delete" in body
    assert client.post("/c/alice/follow", headers=headers).status_code == 200  # again: no change
    assert follow.follower_count(alice.channel.id) == 2

    body = page_text(client.delete("/c/alice/follow", headers=headers))
    assert 'aria-pressed="false"' in body and "1 follower" in body and "hx-post" in body
    assert client.delete("/c/alice/follow", headers=headers).status_code == 200
    assert follow.follower_count(alice.channel.id) == 1


def test_you_cannot_follow_your_own_channel(app, streamer, login):
    alice, _ = streamer
    client = login("alice")
    assert "follow-button" not in page_text(client.get("/c/alice"))  # the owner sees only the count
    body = page_text(client.post("/c/alice/follow", headers={**HTMX, "X-CSRFToken": token(client)}))
    assert "You can't follow your own channel." in body
    response = client.post("/c/alice/follow", data={"csrf_token": token(client)}, follow_redirects=True)
    assert "You can't follow your own channel." in page_text(response)
    assert db.session.query(Follow).count() == 0
    with pytest.raises(follow.FollowRefused):
        follow.follow(alice, alice.channel)


def test_anonymous_visitors_are_sent_to_log_in(app, client, streamer):
    body = page_text(client.get("/c/alice"))
    assert 'href="/login?next=/c/alice"' in body and "0 followers" in body
    response = client.post("/c/alice/follow", data={"csrf_token": token(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/login?next=/c/alice"
    response = client.post("/c/alice/follow", headers={**HTMX, "X-CSRFToken": token(client)})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login?next=/c/alice"
    response = client.delete("/c/alice/follow", headers={**HTMX, "X-CSRFToken": token(client)})
    assert response.headers["HX-Redirect"] == "/login?next=/c/alice"
    assert db.session.query(Follow).count() == 0


def test_toggle_needs_the_csrf_token_and_a_real_channel(app, streamer, login):
    make_user("bob")
    client = login("bob")
    assert client.post("/c/alice/follow", headers=HTMX).status_code == 400
    assert client.post("/c/nobody/follow", headers={**HTMX, "X-CSRFToken": token(client)}).status_code == 404
    assert db.session.query(Follow).count() == 0


def test_following_page_lists_live_channels_first_by_viewers_then_last_live(app, login):
    bob = make_user("bob")
    quiet, busy, recent, old, never = (make_user(n) for n in ("quiet", "busy", "recent", "old", "never"))
    make_live(quiet)
    make_live(busy)
    viewers.heartbeat(quiet.channel.id, "v1", None)
    for viewer in ("v1", "v2", "v3"):
        viewers.heartbeat(busy.channel.id, viewer, None)
    recent.channel.last_live_at = utcnow()
    old.channel.last_live_at = utcnow().replace(year=2024)
    for user in (never, old, quiet, recent, busy):
        db.session.add(Follow(follower_id=bob.id, channel_id=user.channel.id))
    db.session.commit()

    order = [channel.slug for channel, _ in follow.following(bob)]
    assert order == ["busy", "quiet", "recent", "old", "never"]
    body = page_text(login("bob").get("/following"))
    places = [body.index(f'href="/c/{slug}"') for slug in order]
    assert places == sorted(places)
    assert "3 viewers" in body and "1 viewer<" in body and "Hasn't streamed yet" in body


def test_following_page_empty_state_and_login(app, client):
    make_user("bob")
    response = client.get("/following")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    client.post("/login", data={"login": "bob", "password": "correct horse battery",
                                "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    body = page_text(client.get("/following"))
    assert "You don't follow anyone yet" in body and 'href="/directory"' in body
