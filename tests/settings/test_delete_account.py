"""Delete my account (Settings → Account): only with the password, rate-limited like a login; the
account is hidden from every page at once with its logins ended, and after the erasure grace the
hourly run purges it (its chat lines removed, the username kept reserved). The grace, cancelling
and the purge's completeness are tested in tests/privacy/test_erasure.py."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import deletion
from app.chat.services import history as chat_history
from app.extensions import db
from app.follow import services as follow
from app.models import (
    Channel,
    ChatMessage,
    Follow,
    LoginSession,
    ModerationAction,
    Profile,
    StreamSession,
    TopFriend,
    User,
    utcnow,
)
from tests.conftest import Actions, page_text
from tests.factories import PASSWORD, make_live, make_user

# Deleting an account switches SQLite's foreign keys on for its cascade (app/auth/deletion.py).
pytestmark = pytest.mark.both_databases


def delete_account(client, password=PASSWORD):
    return Actions(client).post("/settings/account/delete", {"current_password": password},
                                token_from="/settings/account")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_account_page_has_a_danger_zone_asking_for_the_password(app, login):
    make_user("alice")
    page = page_text(login("alice").get("/settings/account"))
    assert "Delete my account" in page
    assert 'name="current_password"' in page and "can't be undone" in page
    words = " ".join(page.split())
    assert "After 30 days we delete" in words and "logging in lets you keep your account" in words


def test_a_wrong_password_deletes_nothing(app, login):
    alice = make_user("alice")
    me = login("alice")
    response = delete_account(me, "not my password at all")
    assert response.status_code == 200
    assert "That isn't your current password." in page_text(response)
    empty = delete_account(me, "")
    assert empty.status_code == 200 and "Enter your password to confirm." in page_text(empty)
    db.session.expire_all()
    assert db.session.get(User, alice.id) is not None
    assert me.get("/settings/account").status_code == 200  # still logged in
    assert app.test_client().get("/u/alice").status_code == 200


def test_wrong_passwords_are_rate_limited_per_account(app, login):
    make_user("alice")
    me = login("alice")
    for _ in range(5):
        assert delete_account(me, "a wrong guess here").status_code == 200
    limited = delete_account(me, "a wrong guess here")
    assert limited.status_code == 429 and "Too many wrong passwords" in page_text(limited)
    # Past the limit not even the right password is checked, from any browser of the account.
    assert delete_account(login("alice")).status_code == 429
    assert count(User, User.username == "alice") == 1


def test_a_deleted_account_is_gone_from_every_page(app, login, ingest_control):
    alice = make_user("alice")
    bob = make_user("bob")
    carol = make_user("carol")
    alice.channel.title = "Alice plays jazz"
    internal_name = make_live(alice).internal_name
    follow.follow(bob, alice.channel)  # bob follows alice
    follow.follow(alice, bob.channel)  # and alice follows bob
    db.session.add_all([
        ChatMessage(channel_id=bob.channel.id, user_id=alice.id, text="hello from alice"),
        ChatMessage(channel_id=bob.channel.id, user_id=carol.id, text="hi alice"),
        ChatMessage(channel_id=alice.channel.id, user_id=bob.id, text="great set"),
        ModerationAction(channel_id=bob.channel.id, actor_id=bob.id, target_user_id=alice.id, kind="timeout",
                         duration_seconds=60),
        TopFriend(profile_id=bob.id, friend_id=alice.id, position=0),
    ])
    db.session.commit()
    alice_id, alice_channel, bob_channel = alice.id, alice.channel.id, bob.channel.id
    me = login("alice")
    remembered = app.test_client()
    assert Actions(remembered).login("alice", PASSWORD, remember=True).status_code == 303
    bob_browser = login("bob")
    visitor = app.test_client()
    assert "Alice plays jazz" in page_text(visitor.get("/directory"))
    assert "/c/alice" in page_text(visitor.get("/search?q=alice"))

    response = delete_account(me)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    home = page_text(me.get("/"))
    assert "Your account has been deleted." in home
    # She was live: the ingest server was told to drop her publisher.
    assert ingest_control == [f"/control/drop/publisher?app=live&name={internal_name}"]

    # Logged out, here and in every other browser; the password only offers to keep the account.
    assert me.get("/settings/account").status_code == 302
    assert remembered.get("/settings/account").status_code == 302
    offered = Actions(app.test_client()).login("alice", PASSWORD)
    assert offered.status_code == 200 and "Keep my account" in page_text(offered)
    # Profile and channel are gone; directory, search and follow lists no longer name them.
    assert visitor.get("/u/alice").status_code == 404
    assert visitor.get("/c/alice").status_code == 404
    assert visitor.get("/api/v1/channels/alice").status_code == 404
    assert "Alice plays jazz" not in page_text(visitor.get("/directory"))
    search = page_text(visitor.get("/search?q=alice"))
    assert "/u/alice" not in search and "/c/alice" not in search
    following = page_text(bob_browser.get("/following"))
    assert "/c/alice" not in following
    assert "/u/alice" not in page_text(visitor.get("/u/bob"))  # not in bob's Top 8
    # Her lines in someone else's chat go at once too, with her name (others' lines stay),
    # for a visitor, for bob and for a socket joining the chat.
    for browser in (visitor, bob_browser):
        bob_chat = page_text(browser.get("/c/bob"))
        assert "hello from alice" not in bob_chat and "hi alice" in bob_chat
        assert "@alice" not in bob_chat and "/u/alice" not in bob_chat
    assert [line.text for line in chat_history(db.session.get(Channel, bob_channel))] == ["hi alice"]

    # The grace ends; the hourly run purges her.
    assert deletion.erase_due(utcnow() + timedelta(days=30, minutes=1)) == {
        "erased": 1, "erasure_held": 0, "erasure_failed": 0}
    assert Actions(app.test_client()).login("alice", PASSWORD).status_code == 200  # wrong password now
    # Alice's chat lines are removed (others' lines about her stay); the mod log keeps its
    # history with "a deleted account" in her place.
    bob_chat = page_text(visitor.get("/c/bob"))
    assert "hello from alice" not in bob_chat and "hi alice" in bob_chat
    assert "a deleted account" in page_text(bob_browser.get("/c/bob/modlog"))

    db.session.expire_all()
    husk = db.session.get(User, alice_id)  # only the name stays, reserved
    assert husk.username == "alice" and husk.erased_at is not None and husk.email.endswith("@erased.invalid")
    for model, where in [(Profile, Profile.user_id == alice_id),
                         (LoginSession, LoginSession.user_id == alice_id),
                         (ChatMessage, ChatMessage.user_id == alice_id),
                         (ChatMessage, ChatMessage.channel_id == alice_channel),
                         (Follow, Follow.follower_id == alice_id), (Follow, Follow.channel_id == alice_channel),
                         (StreamSession, StreamSession.channel_id == alice_channel),
                         (TopFriend, TopFriend.friend_id == alice_id)]:
        assert count(model, where) == 0, model
    assert count(ModerationAction, ModerationAction.target_user_id.is_(None)) == 1
    # Everyone else is untouched.
    assert bob_browser.get("/settings/account").status_code == 200
    assert visitor.get("/u/carol").status_code == 200


def test_deleting_needs_a_login(app):
    make_user("alice")
    anonymous = Actions(app.test_client())
    response = anonymous.post("/settings/account/delete", {"current_password": PASSWORD}, token_from="/login")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count(User, User.username == "alice") == 1


def test_deleting_needs_the_csrf_token(app, login):
    make_user("alice")
    me = login("alice")
    response = me.post("/settings/account/delete", data={"current_password": PASSWORD})
    assert response.status_code == 400
    assert count(User, User.username == "alice") == 1


def test_open_chats_take_a_deleted_accounts_lines_off_screen(app):
    from tests.chat.conftest import ChatClient

    make_user("alice")
    make_user("bob")
    make_user("carol")
    alice, carol = ChatClient(app, "alice"), ChatClient(app, "carol")
    watcher = ChatClient(app)  # a logged-out viewer of bob's chat
    for client in (alice, carol, watcher):
        assert client.join("bob")["ok"]
    said = alice.send("bob", "hello from alice")
    kept = carol.send("bob", "hi alice")
    assert said["ok"] and kept["ok"]
    watcher.events()

    assert delete_account(alice.http).status_code == 303
    assert deletion.erase_due(utcnow() + timedelta(days=31))["erased"] == 1
    assert watcher.events("delete") == [{"id": said["id"]}]
    for client in (alice, carol, watcher):
        client.sio.disconnect("/chat")
