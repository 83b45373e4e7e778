"""A moderator whose logins end leaves every staff room at once, on every open socket: signing
out everywhere else, changing or resetting the password, and (disconnected altogether) being
suspended or deleted. Sockets are not tied to a login, so every staff socket of the user goes;
the page still signed in gets the staff room back by joining again."""
from __future__ import annotations

from app.auth import services as accounts
from app.chat import services as chat
from app.extensions import db, get_redis
from app.models import User
from tests.chat.test_moderation_actions import hold_one, post
from tests.conftest import Actions
from tests.factories import PASSWORD


def mia() -> User:
    return db.session.scalar(db.select(User).where(User.username == "mia"))


def staff_keys(cast) -> int:
    return get_redis().exists(chat._staff_sockets_key(cast["ids"]["channel"], cast["ids"]["mod"]))


def assert_out_of_the_staff_room(cast, *tabs):
    held = hold_one(cast)
    assert [e["id"] for e in cast["owner"].events("held")] == [held]
    for tab in tabs:
        assert tab.events("held") == []


def test_signing_out_everywhere_else_drops_every_staff_socket(cast, chat_client):
    second_tab = chat_client("mia")
    assert second_tab.join("streamer")["role"] == "moderator"
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    for client in (cast["mod"], second_tab, cast["owner"]):
        client.events()

    token = Actions(cast["mod"].http).csrf("/settings/account")
    response = cast["mod"].http.post("/settings/sessions/sign-out-others", data={"csrf_token": token})
    assert response.status_code in (200, 303), response.status_code
    assert staff_keys(cast) == 0
    for tab in (cast["mod"], second_tab):
        assert [e["kind"] for e in tab.events("notice")] == ["moderator"]
    assert_out_of_the_staff_room(cast, cast["mod"], second_tab)
    # The page still signed in joins again and is staff again; the other tab is not signed in.
    assert cast["mod"].join("streamer")["role"] == "moderator"
    assert cast["mod"].join("streamer").get("held") is not None  # the review queue: staff again
    assert second_tab.events("held") == []


def test_a_password_change_drops_the_staff_sockets(cast):
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    cast["mod"].events()
    accounts.change_password(mia(), PASSWORD, "a brand new passphrase")
    assert_out_of_the_staff_room(cast, cast["mod"])
    assert cast["mod"].sio.is_connected("/chat")


def test_suspension_or_deletion_closes_the_sockets(cast):
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    cast["mod"].events()
    assert chat.drop_from_every_staff_room(cast["ids"]["mod"], disconnect=True) == 1
    assert not cast["mod"].sio.is_connected("/chat")
    assert_out_of_the_staff_room(cast)
    assert staff_keys(cast) == 0
