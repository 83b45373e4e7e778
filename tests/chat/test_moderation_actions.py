"""Moderation from the chat panel: htmx POSTs with CSRF, seen from the moderator's and the target's side."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import BlockedTerm, ChannelRole, ChatBan, ChatMessage, ChatSettings, ModerationAction
from tests.conftest import Actions, page_text
from tests.factories import make_user

HX = {"HX-Request": "true"}


def post(client, path, data=None):
    token = Actions(client.http).csrf("/c/streamer")
    return client.http.post(path, data=data or {}, headers={**HX, "X-CSRFToken": token})


def actions(kind=None):
    query = select(ModerationAction).order_by(ModerationAction.id)
    if kind:
        query = query.where(ModerationAction.kind == kind)
    return db.session.scalars(query).all()


def test_roles_and_badges(cast):
    assert cast["mod"].join("streamer")["role"] == "moderator"
    cast["mod"].send("streamer", "mod here")
    cast["owner"].send("streamer", "owner here")
    messages = cast["anon"].events("message")
    assert messages[0]["badges"] == ["moderator"] and "chat-badge-moderator" in messages[0]["html"]
    assert messages[1]["badges"] == ["owner"] and ">Streamer<" in messages[1]["html"]
    assert cast["mod"].join("streamer")["held"] == []  # staff get the review queue


def test_delete_message(cast):
    message_id = cast["bob"].send("streamer", "oops")["id"]
    response = post(cast["mod"], f"/c/streamer/chat/messages/{message_id}/delete")
    assert response.status_code == 200 and "Message deleted." in page_text(response)
    for side in ("bob", "anon", "owner"):
        assert {"id": message_id} in cast[side].events("delete")
    assert db.session.get(ChatMessage, message_id).state == "deleted"
    [action] = actions("delete")
    assert action.actor_id == cast["ids"]["mod"] and action.target_user_id == cast["ids"]["bob"]
    assert action.message_id == message_id
    assert "oops" not in page_text(cast["anon"].http.get("/c/streamer"))


def test_viewers_and_anonymous_cannot_moderate(cast):
    message_id = cast["owner"].send("streamer", "mine")["id"]
    response = post(cast["bob"], f"/c/streamer/chat/messages/{message_id}/delete")
    assert "Only the channel's owner" in page_text(response)
    plain = cast["bob"].http.post(f"/c/streamer/chat/messages/{message_id}/delete",
                                  headers={"X-CSRFToken": Actions(cast["bob"].http).csrf("/c/streamer")})
    assert plain.status_code == 403
    anon = cast["anon"].http.post(f"/c/streamer/chat/messages/{message_id}/delete")
    assert anon.status_code in (302, 400)  # login redirect, or CSRF refusal first
    assert db.session.get(ChatMessage, message_id).state == "visible"
    assert actions() == []


def test_moderation_requires_csrf(cast):
    message_id = cast["bob"].send("streamer", "hello")["id"]
    response = cast["mod"].http.post(f"/c/streamer/chat/messages/{message_id}/delete", headers=HX)
    assert response.status_code == 400
    assert db.session.get(ChatMessage, message_id).state == "visible"


@pytest.mark.parametrize("data, seconds", [({"seconds": "60"}, 60), ({"seconds": "600"}, 600),
                                           ({"seconds": "3600"}, 3600), ({"seconds": "86400"}, 86400),
                                           ({"minutes": "45"}, 2700)])
@pytest.mark.both_databases  # timeouts end by a date query
def test_timeout_purges_messages_and_refuses_sends(cast, data, seconds):
    earlier = [cast["bob"].send("streamer", f"spam {n}")["id"] for n in range(2)]
    other = cast["owner"].send("streamer", "unrelated")["id"]
    cast["anon"].events()
    response = post(cast["mod"], f"/c/streamer/chat/users/{cast['ids']['bob']}/timeout",
                    {**data, "reason": "calm down"})
    assert "is timed out for" in page_text(response)
    deleted = [e["id"] for e in cast["anon"].events("delete")]
    assert sorted(deleted) == earlier and other not in deleted
    notices = cast["bob"].events("notice")
    assert any("You were timed out" in n["text"] and "calm down" in n["text"] for n in notices)
    # Nobody else is told privately.
    assert not any(n.get("kind") == "timed_out" for n in cast["anon"].events("notice"))
    refused = cast["bob"].send("streamer", "let me talk")
    assert refused["code"] == "timed_out" and seconds - 5 < refused["retry_after"] <= seconds
    [action] = actions("timeout")
    assert action.duration_seconds == seconds and action.reason == "calm down"
    assert cast["bob"].join("streamer")["restriction"]["code"] == "timed_out"


@pytest.mark.parametrize("data, error", [({"seconds": "0"}, "at least one second"),
                                         ({"seconds": "9999999"}, "at most 14 days"),
                                         ({"minutes": "soon"}, "as a number")])
def test_bad_timeouts_change_nothing(cast, data, error):
    response = post(cast["mod"], f"/c/streamer/chat/users/{cast['ids']['bob']}/timeout", data)
    assert error in page_text(response)
    assert db.session.scalar(select(ChatBan.id)) is None and actions() == []


@pytest.mark.both_databases  # one ban row per member (a unique constraint)
def test_ban_and_unban(cast):
    message_id = cast["bob"].send("streamer", "bad words")["id"]
    response = post(cast["owner"], f"/c/streamer/chat/users/{cast['ids']['bob']}/ban", {"reason": "spam"})
    assert "is banned" in page_text(response)
    assert {"id": message_id} in cast["mod"].events("delete")
    assert any(n["kind"] == "banned" for n in cast["bob"].events("notice"))
    ack = cast["bob"].send("streamer", "hello?")
    assert ack["code"] == "banned" and "spam" in ack["message"]
    assert cast["bob"].sio.is_connected("/chat")
    response = post(cast["mod"], f"/c/streamer/chat/users/{cast['ids']['bob']}/unban")
    assert "is unbanned" in page_text(response)
    assert any(n["kind"] == "unban" for n in cast["bob"].events("notice"))
    assert cast["bob"].send("streamer", "thanks")["ok"]
    assert [a.kind for a in actions()] == ["ban", "unban"]


def test_unban_someone_not_banned_says_so(cast):
    response = post(cast["mod"], f"/c/streamer/chat/users/{cast['ids']['bob']}/unban")
    assert "isn't timed out or banned" in page_text(response)


@pytest.mark.parametrize("actor, target, allowed", [
    ("mod", "owner", False), ("mod", "mod", False), ("owner", "owner", False),
    ("owner", "mod", True), ("mod", "bob", True), ("bob", "bob", False),
])
def test_who_can_ban_whom(cast, actor, target, allowed):
    response = post(cast[actor], f"/c/streamer/chat/users/{cast['ids'][target]}/ban")
    assert ("is banned" in page_text(response)) is allowed
    assert (db.session.scalar(select(ChatBan.id)) is not None) is allowed


def test_moderators_cannot_ban_each_other(cast, chat_client):
    other = make_user("otto")
    db.session.add(ChannelRole(channel_id=cast["ids"]["channel"], user_id=other.id))
    db.session.commit()
    response = post(cast["mod"], f"/c/streamer/chat/users/{other.id}/ban")
    assert "other moderators" in page_text(response)


def test_clear_chat_empties_every_view_and_history(cast):
    cast["bob"].send("streamer", "before the clear")
    response = post(cast["mod"], "/c/streamer/chat/clear")
    assert "Chat cleared." in page_text(response)
    assert cast["anon"].events("clear") == [{}]
    page = page_text(cast["anon"].http.get("/c/streamer"))
    assert "before the clear" not in page
    after = cast["bob"].send("streamer", "after the clear")["id"]
    assert [m["id"] for m in cast["anon"].join("streamer", after=0)["messages"]] == [after]
    assert [a.kind for a in actions()] == ["clear"]


def test_modes_from_the_panel_reach_every_viewer(cast):
    response = post(cast["mod"], "/c/streamer/chat/modes", {"slow_seconds": "30"})
    assert "saved" in page_text(response)
    [settings] = cast["anon"].events("settings")
    assert settings["slow_seconds"] == 30
    assert any("Slow mode is on" in n["text"] for n in cast["anon"].events("notice") or [])
    post(cast["mod"], "/c/streamer/chat/modes", {"followers_only": "1", "followers_min_minutes": "10"})
    post(cast["mod"], "/c/streamer/chat/modes", {"emote_only": "1"})
    stored = db.session.get(ChatSettings, cast["ids"]["channel"])
    assert (stored.slow_seconds, stored.followers_only, stored.followers_min_minutes,
            stored.emote_only) == (30, True, 10, True)
    post(cast["mod"], "/c/streamer/chat/modes", {"followers_only": "1", "followers_min_minutes": "off"})
    db.session.refresh(stored)
    assert stored.followers_only is False
    assert [a.kind for a in actions()] == ["slow", "followers_only", "emote_only", "followers_only"]


@pytest.mark.parametrize("data, error", [({"slow_seconds": "9999"}, "between 0 and 600"),
                                         ({"link_policy": "sometimes"}, "allow, block or allowlist"),
                                         ({"automod_level": "max"}, "off, low or high"),
                                         ({"slow_seconds": "ten"}, "whole number")])
def test_bad_modes_change_nothing(cast, data, error):
    response = post(cast["mod"], "/c/streamer/chat/modes", data)
    assert error in page_text(response)
    assert db.session.scalar(select(ChatSettings.channel_id)) is None and actions() == []


def test_viewers_cannot_change_modes(cast):
    response = post(cast["bob"], "/c/streamer/chat/modes", {"slow_seconds": "30"})
    assert "Only the channel's owner" in page_text(response)
    assert db.session.scalar(select(ChatSettings.channel_id)) is None


def test_link_policy_allowlist(cast):
    post(cast["owner"], "/c/streamer/chat/modes",
         {"link_policy": "allowlist", "allowed_domains": "example.com\nyoutube.com"})
    assert cast["bob"].send("streamer", "see https://www.youtube.com/watch?v=1")["ok"]
    refused = cast["bob"].send("streamer", "see https://evil.test/x")
    assert refused["code"] == "link" and "evil.test" in refused["message"]
    [ok] = cast["anon"].events("message")
    assert 'href="https://www.youtube.com/watch?v=1"' in ok["html"]
    # Staff may post any link.
    assert cast["mod"].send("streamer", "https://evil.test/x")["ok"]


def test_blocked_terms_channel_and_site(cast):
    db.session.add(BlockedTerm(channel_id=cast["ids"]["channel"], term="bad*"))
    db.session.add(BlockedTerm(channel_id=None, term="sitewide"))
    db.session.commit()
    assert cast["bob"].send("streamer", "this is B4DDEST")["code"] == "blocked_term"
    assert cast["bob"].send("streamer", "a s.i.t.e.w.i.d.e thing")["code"] == "blocked_term"
    assert cast["bob"].send("streamer", "a fine message")["ok"]


def test_automod_holds_for_review_and_moderators_approve_live(cast):
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    cast["anon"].events()
    ack = cast["bob"].send("streamer", "you are such an idiot")
    assert ack["ok"] and ack["held"] and "waiting for a moderator" in ack["message"]
    assert cast["anon"].events("message") == []
    [held] = cast["mod"].events("held")
    assert held["id"] == ack["id"] and "Allow" in held["html"] and held["flags"]
    assert cast["owner"].events("held")  # every staff member sees the queue
    assert cast["bob"].events("held") == []
    page = page_text(cast["mod"].http.get("/c/streamer"))
    assert f'id="held-{ack["id"]}"' in page
    assert f'id="held-{ack["id"]}"' not in page_text(cast["bob"].http.get("/c/streamer"))
    response = post(cast["mod"], f"/c/streamer/chat/held/{ack['id']}/approve")
    assert "approved" in page_text(response)
    [shown] = cast["anon"].events("message")
    assert shown["id"] == ack["id"]
    assert {"ids": [ack["id"]], "approved": True} in cast["owner"].events("resolved")
    again = post(cast["mod"], f"/c/streamer/chat/held/{ack['id']}/approve")
    assert "already reviewed" in page_text(again)


def test_denied_messages_never_show(cast):
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    ack = cast["bob"].send("streamer", "SHUT UP LOSER")
    assert ack["held"]
    post(cast["mod"], f"/c/streamer/chat/held/{ack['id']}/deny")
    assert any(n["kind"] == "denied" for n in cast["bob"].events("notice"))
    assert cast["anon"].events("message") == []
    assert db.session.get(ChatMessage, ack["id"]).state == "deleted"
    assert [a.kind for a in actions()][-1] == "deny"


def remove_moderator(cast, user_id):
    response = post(cast["owner"], f"/c/streamer/chat/settings/moderators/{user_id}/remove")
    assert response.status_code == 200 and "no longer a moderator" in page_text(response)


def hold_one(cast) -> int:
    ack = cast["bob"].send("streamer", "you are such an idiot")
    assert ack["held"]
    return ack["id"]


def test_a_removed_moderator_leaves_the_staff_room_on_every_open_socket(cast, chat_client):
    second_tab = chat_client("mia")
    assert second_tab.join("streamer")["role"] == "moderator"
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    for client in (cast["mod"], second_tab, cast["owner"]):
        client.events()

    remove_moderator(cast, cast["ids"]["mod"])
    for tab in (cast["mod"], second_tab):
        assert tab.events("role") == [{"role": "viewer"}]
        assert tab.events("notice") == [{"text": "You are no longer a moderator here.", "kind": "moderator"}]
    assert cast["owner"].events("role") == [] and cast["bob"].events("role") == []

    held = hold_one(cast)
    assert [e["id"] for e in cast["owner"].events("held")] == [held]
    assert cast["mod"].events("held") == [] and second_tab.events("held") == []
    # Still connected and still reading the chat, without reconnecting.
    said = cast["bob"].send("streamer", "still here?")["id"]
    for tab in (cast["mod"], second_tab):
        assert tab.sio.is_connected("/chat")
        assert [m["id"] for m in tab.events("message")] == [said]
    state = cast["mod"].join("streamer")
    assert state["role"] == "viewer" and "held" not in state


def test_removal_reaches_sockets_this_process_cannot_list(cast, monkeypatch):
    """With several web processes, a room's sockets are listed only by the process that holds
    them: the staff sockets recorded in Redis are what reaches the others."""
    from app.chat import services as chat

    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    monkeypatch.setattr(chat, "sockets_here", lambda room: [])
    remove_moderator(cast, cast["ids"]["mod"])
    hold_one(cast)
    assert cast["owner"].events("held")
    assert cast["mod"].events("held") == []


def test_staff_sockets_are_recorded_while_open_and_forgotten_when_closed(cast, chat_client, app):
    from app.chat import services as chat
    from app.extensions import get_redis

    key = chat._staff_sockets_key(cast["ids"]["channel"], cast["ids"]["mod"])
    second_tab = chat_client("mia")
    second_tab.join("streamer")
    assert get_redis().scard(key) == 2
    second_tab.sio.disconnect("/chat")
    assert get_redis().scard(key) == 1
    make_user("other")
    cast["mod"].join("other")  # a viewer there: no longer in this channel's staff room
    assert get_redis().scard(key) == 0
    assert get_redis().scard(chat._staff_sockets_key(cast["ids"]["channel"], cast["ids"]["bob"])) == 0


def test_removing_a_moderator_who_is_a_site_admin_keeps_their_staff_room(cast):
    from app.models import User

    db.session.get(User, cast["ids"]["mod"]).role = "admin"
    db.session.commit()
    post(cast["owner"], "/c/streamer/chat/modes", {"automod_level": "high"})
    remove_moderator(cast, cast["ids"]["mod"])
    assert cast["mod"].events("role") == []
    hold_one(cast)
    assert cast["mod"].events("held")
