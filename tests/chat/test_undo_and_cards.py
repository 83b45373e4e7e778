"""Undo in chat, the moderator menu's recent actions and the user card: htmx requests with CSRF and
the Socket.IO events they cause, seen by the moderator, the other staff, the target and a viewer."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ChatBan, ChatMessage, Follow, ModerationAction, User
from tests.conftest import Actions, page_text
from tests.factories import make_user

HX = {"HX-Request": "true"}
RECENT = "/c/olive/chat/actions"


@pytest.fixture
def streamer(app):
    """Olive owns the channel here (the chat conftest's `cast` gathers her chat's people)."""
    return make_user("olive")


def post(client, path, data=None):
    """An htmx POST with the page's CSRF token, as the chat panel sends it."""
    token = Actions(client.http).csrf("/c/olive")
    return client.http.post(path, data=data or {}, headers={**HX, "X-CSRFToken": token})


def actions(kind=None):
    query = select(ModerationAction).order_by(ModerationAction.id)
    if kind:
        query = query.where(ModerationAction.kind == kind)
    return db.session.scalars(query).all()


def words(response) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def card(client, user_id: int, hx: bool = True):
    return client.http.get(f"/c/olive/chat/users/{user_id}/card", headers=HX if hx else {})


def undo_id(response) -> int:
    """The action the outcome line offers to undo."""
    [found] = re.findall(r'data-undo-action="(\d+)"', response.get_data(as_text=True))
    return int(found)


def staff_updates(client) -> dict[int, str]:
    """The recent-actions entries the staff room pushed, by action id (the latest html of each)."""
    return {event["id"]: event["html"] for event in client.events("modaction")}


# --- undo from the outcome line after a timeout or ban ---------------------------------------------

@pytest.mark.both_databases  # timeouts end by a date query
def test_timeout_offers_undo_and_undo_lets_them_chat_again(cast):
    bob = cast["ids"]["bob"]
    cast["bob"].send("olive", "first line")
    response = post(cast["mod"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "600", "reason": "calm"})
    assert "bob is timed out for 10 minutes." in page_text(response) and ">Undo</button>" in page_text(response)
    [timeout] = actions("timeout")
    assert undo_id(response) == timeout.id
    assert cast["bob"].send("olive", "let me talk")["code"] == "timed_out"
    # Every moderator's list gets the entry live, with Undo; nobody else does.
    for side in ("mod", "owner"):
        assert ">Undo<" in staff_updates(cast[side])[timeout.id]
    assert cast["bob"].events("modaction") == [] and cast["anon"].events("modaction") == []

    response = post(cast["owner"], f"/c/olive/chat/actions/{timeout.id}/undo")
    assert page_text(response).count("bob can chat again.") == 1
    assert db.session.scalar(select(ChatBan.id)) is None
    assert any(n["kind"] == "untimeout" for n in cast["bob"].events("notice"))
    assert cast["bob"].send("olive", "thanks")["ok"]
    # The undo is logged like any action, and the lists show it and drop the old entry's Undo.
    [untimeout] = actions("untimeout")
    assert (untimeout.actor_id, untimeout.target_user_id, untimeout.reason) == (cast["ids"]["owner"], bob, "Undo")
    updates = staff_updates(cast["mod"])
    assert "ended the timeout of" in updates[untimeout.id] and ">Undo<" not in updates[untimeout.id]
    assert "timed out" in updates[timeout.id] and "data-undo-action" not in updates[timeout.id]


def test_ban_offers_undo_that_unbans(cast):
    bob = cast["ids"]["bob"]
    response = post(cast["owner"], f"/c/olive/chat/users/{bob}/ban", {"reason": "spam"})
    [ban] = actions("ban")
    assert undo_id(response) == ban.id
    response = post(cast["mod"], f"/c/olive/chat/actions/{ban.id}/undo")
    assert "bob is unbanned." in page_text(response)
    assert cast["bob"].send("olive", "back again")["ok"]
    assert [a.kind for a in actions()] == ["ban", "unban"]


def test_undo_of_a_deleted_message_puts_it_back_for_everyone(cast):
    message_id = cast["bob"].send("olive", "not actually rude")["id"]
    post(cast["mod"], f"/c/olive/chat/messages/{message_id}/delete")
    [delete] = actions("delete")
    assert "not actually rude" in staff_updates(cast["owner"])[delete.id]
    cast["anon"].events()
    response = post(cast["owner"], f"/c/olive/chat/actions/{delete.id}/undo")
    assert "Message restored." in page_text(response)
    [restored] = cast["anon"].events("message")
    assert restored["id"] == message_id and "not actually rude" in restored["html"]
    assert db.session.get(ChatMessage, message_id).state == "visible"
    assert "not actually rude" in page_text(cast["anon"].http.get("/c/olive"))
    [restore] = actions("restore")
    assert restore.message_id == message_id and restore.target_user_id == cast["ids"]["bob"]
    # Undone once is undone: a second undo is refused and changes nothing.
    again = post(cast["owner"], f"/c/olive/chat/actions/{delete.id}/undo")
    assert "That message is already back." in page_text(again)
    assert len(actions()) == 2


@pytest.mark.parametrize("who", ["bob", "anon"])
def test_undo_by_a_non_moderator_is_refused(cast, who):
    post(cast["mod"], f"/c/olive/chat/users/{cast['ids']['bob']}/ban")
    [ban] = actions("ban")
    client = cast[who]
    if who == "anon":
        response = client.http.post(f"/c/olive/chat/actions/{ban.id}/undo")
        assert response.status_code in (302, 400)  # the login redirect, or the CSRF refusal first
    else:
        response = post(client, f"/c/olive/chat/actions/{ban.id}/undo")
        assert "Only the channel's owner, its moderators and site admins can do that." in page_text(response)
        plain = client.post(f"/c/olive/chat/actions/{ban.id}/undo", token_from="/c/olive")
        assert plain.status_code == 403
    assert db.session.scalar(select(ChatBan.id)) is not None
    assert [a.kind for a in actions()] == ["ban"]


@pytest.mark.both_databases  # ids out of every database's range
def test_undo_refusals_say_why_and_change_nothing(cast, chat_client):
    bob = cast["ids"]["bob"]
    post(cast["mod"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "60"})
    post(cast["mod"], f"/c/olive/chat/users/{bob}/ban")
    timeout, ban = actions("timeout")[0], actions("ban")[0]
    # The ban replaced the timeout: undoing the timeout must not unban.
    response = post(cast["owner"], f"/c/olive/chat/actions/{timeout.id}/undo")
    assert "A later action replaced this one." in page_text(response)
    assert post(cast["owner"], f"/c/olive/chat/actions/{ban.id}/undo").status_code == 200
    response = post(cast["owner"], f"/c/olive/chat/actions/{ban.id}/undo")
    assert "A later action replaced this one." in page_text(response)  # the unban is newer
    # A timeout that ran out by itself.
    post(cast["mod"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "60"})
    latest = actions("timeout")[-1]
    row = db.session.scalar(select(ChatBan))
    row.expires_at = row.expires_at - timedelta(minutes=5)
    db.session.commit()
    assert "That timeout is already over." in page_text(post(cast["owner"], f"/c/olive/chat/actions/{latest.id}/undo"))
    # Actions that have no undo, and ones from another channel's log.
    post(cast["mod"], "/c/olive/chat/clear")
    [clear] = actions("clear")
    assert "That action can't be undone." in page_text(post(cast["owner"], f"/c/olive/chat/actions/{clear.id}/undo"))
    other = make_user("elsewhere")
    elsewhere = chat_client("elsewhere")
    elsewhere.post(f"/c/elsewhere/chat/users/{bob}/ban", token_from="/c/elsewhere")
    foreign = actions("ban")[-1]
    assert foreign.channel_id == other.channel.id
    response = cast["owner"].post(f"/c/olive/chat/actions/{foreign.id}/undo", token_from="/c/olive")
    assert response.status_code == 404
    assert cast["owner"].post("/c/olive/chat/actions/99999999999999999999/undo",
                              token_from="/c/olive").status_code == 404
    kinds = [a.kind for a in actions()]
    assert kinds == ["timeout", "ban", "unban", "timeout", "clear", "ban"]


def test_a_moderator_cannot_undo_what_they_could_not_do(cast):
    """The owner times out a viewer who is later made a moderator: a moderator can't lift it."""
    bob = cast["ids"]["bob"]
    post(cast["owner"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "600"})
    [timeout] = actions("timeout")
    cast["owner"].post("/c/olive/chat/settings/moderators", {"username": "bob"}, token_from="/c/olive/chat/settings")
    response = post(cast["mod"], f"/c/olive/chat/actions/{timeout.id}/undo")
    assert "Moderators can't time out or ban other moderators" in page_text(response)
    assert db.session.scalar(select(ChatBan.id)) is not None


# --- the recent actions list -------------------------------------------------------------------------

def test_recent_actions_list_for_staff_only(cast):
    bob = cast["ids"]["bob"]
    message_id = cast["bob"].send("olive", "<b>loud</b> words")["id"]
    post(cast["mod"], f"/c/olive/chat/messages/{message_id}/delete", {"reason": "rude"})
    post(cast["mod"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "600", "reason": "cool off"})
    post(cast["owner"], "/c/olive/chat/modes", {"slow_seconds": "30"})
    response = cast["owner"].http.get(RECENT, headers=HX)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    raw = response.get_data(as_text=True)
    assert raw.lstrip().startswith('<ol class="recent-actions" id="recent-actions"')
    text = words(response)
    # Newest first, in words: who did what to whom.
    assert text.index("turned slow mode on") < text.index("timed out bob for 10 minutes") < text.index(
        "deleted a message from bob")
    assert "Reason: cool off" in text and "Reason: rude" in text
    assert "&lt;b&gt;loud&lt;/b&gt;" in raw and "<b>loud</b>" not in raw
    undoable = {int(i) for i in re.findall(r'data-undo-action="(\d+)"', raw)}
    assert undoable == {a.id for a in actions() if a.kind in ("delete", "timeout")}
    # Viewers are refused; a plain visit goes to the full mod log; the anonymous log in first.
    assert cast["bob"].http.get(RECENT, headers=HX).status_code == 403
    assert "cool off" not in page_text(cast["bob"].http.get(RECENT, headers=HX))
    plain = cast["mod"].http.get(RECENT)
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/c/olive/modlog")
    assert cast["anon"].http.get(RECENT, headers=HX).status_code == 302


def test_recent_actions_holds_the_last_twenty(cast):
    for seconds in range(1, 26):
        post(cast["mod"], "/c/olive/chat/modes", {"slow_seconds": str(seconds)})
    raw = cast["mod"].http.get(RECENT, headers=HX).get_data(as_text=True)
    assert raw.count('class="recent-action"') == 20
    assert "(25 seconds)" in raw and "(5 seconds)" not in raw


def test_a_removed_moderator_stops_getting_actions(cast):
    cast["owner"].post(f"/c/olive/chat/settings/moderators/{cast['ids']['mod']}/remove",
                       token_from="/c/olive/chat/settings")
    cast["mod"].events()
    post(cast["owner"], f"/c/olive/chat/users/{cast['ids']['bob']}/timeout", {"seconds": "60"})
    assert cast["mod"].events("modaction") == []
    assert cast["owner"].events("modaction")


# --- the user card -------------------------------------------------------------------------------

def test_user_card_for_a_viewer_has_no_moderation_history(cast):
    bob = db.session.get(User, cast["ids"]["bob"])
    bob.profile.display_name = "Bob <the> Builder"
    bob.created_at = bob.created_at - timedelta(days=95)
    db.session.add(Follow(follower_id=bob.id, channel_id=cast["ids"]["channel"]))
    db.session.commit()
    post(cast["owner"], f"/c/olive/chat/users/{bob.id}/timeout", {"seconds": "60", "reason": "secret reason"})
    for who in ("anon", "bob"):
        response = card(cast[who], bob.id)
        assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
        raw, text = response.get_data(as_text=True), words(response)
        assert raw.lstrip().startswith('<div class="user-card" id="user-card"')
        assert "Bob &lt;the&gt; Builder" in raw and "@bob" in text
        assert "Joined 3 months ago" in text and "Following since" in text
        assert 'href="/u/bob"' in raw
        for secret in ("In this channel", "timeout", "Timed out", "secret reason", "data-dialog-action"):
            assert secret not in raw
    assert "Not following" in words(card(cast["anon"], cast["ids"]["mod"]))
    assert "This is the channel's streamer" in words(card(cast["anon"], cast["ids"]["owner"]))


def test_user_card_for_staff_shows_history_and_tools(cast):
    bob = cast["ids"]["bob"]
    post(cast["mod"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "600", "reason": "first warning"})
    post(cast["owner"], f"/c/olive/chat/actions/{actions('timeout')[0].id}/undo")
    post(cast["mod"], f"/c/olive/chat/users/{bob}/timeout", {"seconds": "60", "reason": "second"})
    post(cast["owner"], f"/c/olive/chat/users/{bob}/ban", {"reason": "third <strike>"})
    response = card(cast["mod"], bob)
    raw, text = response.get_data(as_text=True), words(response)
    assert "In this channel" in text and "2 timeouts · 1 ban" in text
    assert text.index("Banned") < text.index("Timed out for 1 minute") < text.index("Timed out for 10 minutes")
    assert "Reason: third <strike>" in text and "third &lt;strike&gt;" in raw and "first warning" in text
    assert "by mia" in text
    assert 'data-dialog-action="ban"' in raw and ">Unban</button>" in raw
    # Nothing on record: said so, and no Unban to offer.
    clean = card(cast["owner"], cast["ids"]["mod"])
    assert "No timeouts or bans in this channel." in page_text(clean)
    assert ">Unban<" not in clean.get_data(as_text=True)
    # No tools against the owner, nor against yourself.
    assert "data-dialog-action" not in card(cast["mod"], cast["ids"]["owner"]).get_data(as_text=True)
    assert "data-dialog-action" not in card(cast["mod"], cast["ids"]["mod"]).get_data(as_text=True)


@pytest.mark.both_databases  # ids out of every database's range
def test_user_card_page_and_missing_users(cast):
    response = card(cast["anon"], cast["ids"]["bob"], hx=False)
    raw = response.get_data(as_text=True)
    assert response.status_code == 200 and raw.lstrip().lower().startswith("<!doctype html>")
    assert "@bob" in words(response) and "data-dialog-mute" not in raw
    assert card(cast["anon"], 999999).status_code == 404
    assert card(cast["anon"], 99999999999999999999).status_code == 404
    assert cast["anon"].http.get(f"/c/nobody/chat/users/{cast['ids']['bob']}/card").status_code == 404
    gone = make_user("gone", disabled=True)
    assert card(cast["mod"], gone.id).status_code == 404
    assert db.session.scalar(select(ModerationAction.id)) is None
