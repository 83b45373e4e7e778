"""The /chat namespace in process: joining, sending, history, refusals and what each side sees."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ChatMessage, ChatSettings, Follow, utcnow
from tests.factories import make_user


@pytest.fixture
def viewer(app):
    return make_user("bob")


def test_send_reaches_everyone_in_the_room_with_escaped_html(streamer, viewer, chat_client):
    bob, anon = chat_client("bob"), chat_client()
    assert bob.join("streamer")["role"] == "viewer"
    assert anon.join("streamer")["role"] == "anonymous"
    ack = bob.send("streamer", 'hi <script>alert(1)</script> <img src=x onerror="x()"> :wave:')
    assert ack["ok"] and isinstance(ack["id"], int)
    for client in (bob, anon):
        [message] = client.events("message")
        assert message["id"] == ack["id"]
        assert message["user"] == "bob"
        assert message["text"] == 'hi <script>alert(1)</script> <img src=x onerror="x()"> :wave:'
        assert "<script>" not in message["html"] and "&lt;script&gt;" in message["html"]
        assert "<img" not in message["html"]
        assert "👋" in message["html"]
        assert message["ts"].endswith("+00:00")
    stored = db.session.get(ChatMessage, ack["id"])
    assert stored.state == "visible" and stored.user_id == viewer.id


def test_anonymous_viewers_read_but_cannot_send(streamer, chat_client):
    anon = chat_client()
    anon.join("streamer")
    ack = anon.send("streamer", "hello")
    assert ack == {"ok": False, "code": "login_required", "message": "Log in to chat."}
    assert anon.events("error") == [{"code": "login_required", "message": "Log in to chat."}]
    assert db.session.scalar(select(ChatMessage.id)) is None


@pytest.mark.parametrize("payload, code", [
    ({"channel": "streamer", "text": ""}, "empty"),
    ({"channel": "streamer", "text": "   \u200b\u202e  "}, "empty"),
    ({"channel": "streamer", "text": "x" * 501}, "too_long"),
    ({"channel": "streamer", "text": 42}, "empty"),
    ({"channel": "nobody", "text": "hi"}, "not_found"),
    ({"text": "hi"}, "bad_request"),
    ("just a string", "bad_request"),
])
def test_bad_sends_get_a_reason_and_store_nothing(streamer, viewer, chat_client, payload, code):
    bob = chat_client("bob")
    ack = bob.emit("send", payload)
    assert ack["ok"] is False and ack["code"] == code and ack["message"]
    assert bob.events("error")[0]["code"] == code
    assert db.session.scalar(select(ChatMessage.id)) is None


def test_join_unknown_channel_is_refused_with_an_error_event(chat_client):
    anon = chat_client()
    ack = anon.join("ghost")
    assert ack["ok"] is False and ack["code"] == "not_found"
    assert anon.sio.is_connected("/chat")


def test_page_renders_the_last_50_messages_escaped(streamer, viewer, chat_client, client):
    bob = chat_client("bob")
    ids = []
    for n in range(55):
        db.session.add(ChatMessage(channel_id=streamer.channel.id, user_id=viewer.id,
                                   text=f"message {n} <b>bold</b>"))
    db.session.commit()
    ids = db.session.scalars(select(ChatMessage.id).order_by(ChatMessage.id)).all()
    html = client.get("/c/streamer").get_data(as_text=True)
    assert html.count('class="chat-line"') == 50
    assert f'id="chat-{ids[5]}"' in html and f'id="chat-{ids[4]}"' not in html
    assert "message 54 &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert f'data-last-id="{ids[-1]}"' in html
    assert bob.join("streamer")["ok"]


def test_rejoin_with_after_returns_exactly_what_was_missed(streamer, viewer, chat_client):
    bob, alice = chat_client("bob"), chat_client("streamer")
    bob.join("streamer")
    first = bob.send("streamer", "one")["id"]
    alice.sio.disconnect("/chat")
    missed = [bob.send("streamer", f"missed {n}")["id"] for n in range(3)]
    back = chat_client("streamer")
    state = back.join("streamer", after=first)
    assert [m["id"] for m in state["messages"]] == missed
    assert [m["text"] for m in state["messages"]] == ["missed 0", "missed 1", "missed 2"]
    later = bob.send("streamer", "after rejoin")["id"]
    assert [m["id"] for m in back.events("message")] == [later]


def test_join_after_must_be_an_id(streamer, chat_client):
    anon = chat_client()
    ack = anon.emit("join", {"channel": "streamer", "after": "yesterday"})
    assert ack["ok"] is False and ack["code"] == "bad_request"


def test_joining_another_channel_leaves_the_first(streamer, viewer, chat_client):
    make_user("other")
    anon, bob = chat_client(), chat_client("bob")
    anon.join("streamer")
    anon.join("other")
    bob.send("streamer", "only streamer's room")
    assert anon.events("message") == []


def test_viewers_are_rate_limited_with_the_wait_and_stay_connected(make_app, streamer, chat_client):
    make_user("bob")
    bob = chat_client("bob")
    acks = [bob.send("streamer", f"message {n}") for n in range(7)]
    assert all(a["ok"] for a in acks[:5])
    refused = acks[5]
    assert refused["ok"] is False and refused["code"] == "rate_limited"
    assert 0 < refused["retry_after"] <= 3
    assert "Wait" in refused["message"]
    assert bob.sio.is_connected("/chat")
    assert db.session.query(ChatMessage).count() == 5


def test_owner_is_exempt_from_rate_limits_and_slow_mode(streamer, chat_client):
    db.session.add(ChatSettings(channel_id=streamer.channel.id, slow_seconds=30))
    db.session.commit()
    owner = chat_client("streamer")
    assert all(owner.send("streamer", f"m{n}")["ok"] for n in range(12))


def test_slow_mode_refuses_with_the_time_left(streamer, viewer, chat_client):
    db.session.add(ChatSettings(channel_id=streamer.channel.id, slow_seconds=30))
    db.session.commit()
    bob = chat_client("bob")
    assert bob.send("streamer", "first")["ok"]
    ack = bob.send("streamer", "second")
    assert ack["code"] == "slow_mode" and 25 < ack["retry_after"] <= 30


def test_a_refused_message_does_not_use_up_the_slow_mode_slot(streamer, viewer, chat_client):
    db.session.add(ChatSettings(channel_id=streamer.channel.id, slow_seconds=30, link_policy="block"))
    db.session.commit()
    bob = chat_client("bob")
    assert bob.send("streamer", "see https://example.com")["code"] == "link"
    assert bob.send("streamer", "no link this time")["ok"]


@pytest.mark.both_databases  # a date query
def test_followers_only_with_minimum_follow_age(streamer, viewer, chat_client):
    db.session.add(ChatSettings(channel_id=streamer.channel.id, followers_only=True,
                                followers_min_minutes=10))
    db.session.commit()
    bob = chat_client("bob")
    assert bob.send("streamer", "hi")["code"] == "followers_only"
    follow = Follow(follower_id=viewer.id, channel_id=streamer.channel.id)
    db.session.add(follow)
    db.session.commit()
    ack = bob.send("streamer", "hi")
    assert ack["code"] == "followers_only" and "10 minutes" in ack["message"]
    follow.created_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    assert bob.send("streamer", "hi")["ok"]


def test_emote_only_mode(streamer, viewer, chat_client):
    db.session.add(ChatSettings(channel_id=streamer.channel.id, emote_only=True))
    db.session.commit()
    bob = chat_client("bob")
    assert bob.send("streamer", "words")["code"] == "emote_only"
    assert bob.send("streamer", ":fire: 🎉")["ok"]


def test_duplicate_messages_are_refused(streamer, viewer, chat_client):
    bob = chat_client("bob")
    assert bob.send("streamer", "same thing")["ok"]
    assert bob.send("streamer", "Same thing")["code"] == "duplicate"


def test_muting_is_per_viewer_and_remembered(streamer, viewer, chat_client, app):
    from tests.conftest import Actions

    owner = chat_client("streamer")
    token = Actions(owner.http).csrf("/dashboard")
    response = owner.http.post(f"/chat/mutes/{viewer.id}", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json["muted"] == [viewer.id]
    page = owner.http.get("/c/streamer").get_data(as_text=True)
    assert f'data-muted="[{viewer.id}]"' in page
    assert owner.http.post(f"/chat/mutes/{streamer.id}", headers={"X-CSRFToken": token}).status_code == 400
    response = owner.http.delete(f"/chat/mutes/{viewer.id}", headers={"X-CSRFToken": token})
    assert response.json["muted"] == []
    # Without the CSRF token nothing changes.
    assert owner.http.post(f"/chat/mutes/{viewer.id}").status_code == 400
    assert owner.http.get("/c/streamer").get_data(as_text=True).count('data-muted="[]"') == 1


def test_a_scorer_that_cannot_load_stops_the_app_at_start(make_app):
    with pytest.raises(RuntimeError, match="CHAT_TOXICITY_SCORER"):
        make_app(CHAT_TOXICITY_SCORER="no.such.module:score")


def test_a_plugged_in_scorer_drives_automod(make_app, chat_client):
    app = make_app(CHAT_TOXICITY_SCORER="tests.chat.test_chat_events:always_toxic")
    with app.app_context():
        owner = make_user("streamer")
        make_user("bob")
        db.session.add(ChatSettings(channel_id=owner.channel.id, automod_level="low"))
        db.session.commit()
        from tests.chat.conftest import ChatClient

        bob = ChatClient(app, "bob")
        ack = bob.send("streamer", "a perfectly nice message")
        assert ack["held"] is True
        assert "toxicity:0.99" in db.session.get(ChatMessage, ack["id"]).flags


def always_toxic(text: str) -> float:
    return 0.99


def test_emoji_sequences_survive_and_invisible_tricks_do_not(streamer, viewer, chat_client):
    bob = chat_client("bob")
    family, flag = "👨\u200d👩\u200d👧", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    ack = bob.send("streamer", f"{family} {flag} a\u202eb\u200bc")
    stored = db.session.get(ChatMessage, ack["id"]).text
    assert stored == f"{family} {flag} abc"


def test_pages_on_a_channel_hear_when_its_stream_becomes_playable(streamer, chat_client):
    """The live host's mark_playable pushes "live" into the channel's room, so a player that says
    Starting… loads at once (player.js listens through chat.js)."""
    from app.channels import services as channels
    from app.streams import services as streams

    anon = chat_client()
    anon.join("streamer")
    session = streams.go_live(channels.rotate_stream_key(streamer.channel), ingest="nginx", client_id="1")
    assert anon.events("live") == []  # publishing is not playing
    assert streams.mark_playable(session.id, session.lease_token)
    assert anon.events("live") == [{"channel": "streamer"}]


def test_a_retried_send_is_answered_once_and_stored_once(streamer, viewer, chat_client):
    fan = chat_client("bob")
    fan.join("streamer")
    first = fan.emit("send", {"channel": "streamer", "text": "lol", "nonce": "n-0001-abcdef"})
    again = fan.emit("send", {"channel": "streamer", "text": "lol", "nonce": "n-0001-abcdef"})
    assert first["ok"] and again == first
    other = fan.emit("send", {"channel": "streamer", "text": "gg", "nonce": "n-0002-abcdef"})
    assert other["ok"] and other["id"] != first["id"]
    texts = db.session.scalars(select(ChatMessage.text).order_by(ChatMessage.id)).all()
    assert texts == ["lol", "gg"]


def test_a_refused_send_can_be_retried_under_the_same_nonce(streamer, viewer, chat_client):
    db.session.add(ChatSettings(channel_id=streamer.channel.id, slow_seconds=30))
    db.session.commit()
    fan = chat_client("bob")
    assert fan.send("streamer", "first")["ok"]
    refused = fan.emit("send", {"channel": "streamer", "text": "second", "nonce": "n-0003-abcdef"})
    assert refused["ok"] is False and refused["code"] == "slow_mode"
    db.session.execute(db.update(ChatSettings).values(slow_seconds=0))
    db.session.commit()
    assert fan.emit("send", {"channel": "streamer", "text": "second", "nonce": "n-0003-abcdef"})["ok"]


@pytest.mark.parametrize("nonce", ["short", "x" * 65, "has space!", 12345678, ["n-0001-abcdef"]])
def test_a_malformed_nonce_is_refused_and_stores_nothing(streamer, viewer, chat_client, nonce):
    fan = chat_client("bob")
    fan.join("streamer")
    answer = fan.emit("send", {"channel": "streamer", "text": "hello", "nonce": nonce})
    assert answer["ok"] is False and answer["code"] == "bad_request"
    assert db.session.scalar(select(db.func.count()).select_from(ChatMessage)) == 0


@pytest.mark.parametrize("text", [
    "\u3164",                                # HANGUL FILLER
    "\u2800\u2800\u2800",                    # BRAILLE PATTERN BLANK
    "\u115f\u1160 \uffa0",                   # the other Hangul fillers
    "\u200b\u200c\u200d\u2060\ufeff",        # zero-width spaces, joiners, BOM
    "\u3000 \u00a0\u2003\n\t",               # whitespace of every width
    "\u200d\ufe0f\U000e0067\U000e007f",      # a joiner, a variation selector and tag letters alone
    "\u0301\u0302\u0303",                    # marks with nothing to sit on
    "\u3164\u200b\u2800 \u115f\u202e",
])
def test_a_message_of_invisible_characters_is_refused_as_empty(streamer, viewer, chat_client, text):
    bob = chat_client("bob")
    ack = bob.send("streamer", text)
    assert ack == {"ok": False, "code": "empty", "message": "Type a message first."}
    assert db.session.scalar(select(ChatMessage.id)) is None


@pytest.mark.parametrize("text", [
    "Tiếng Việt có dấu: người, được, những",                  # Vietnamese, precomposed
    "Tie\u0302\u0301ng Vie\u0323\u0302t",                      # Vietnamese, decomposed (two marks)
    "नमस्ते दुनिया, क़्षत्रिय, कैंसर",                             # Devanagari: virama, nukta, signs
    "สวัสดีครับ กี่โมงแล้ว ผู้ใหญ่",                                  # Thai vowels and tone marks
    "བསྒྲུབས",                                                  # Tibetan: three stacked marks
    "👨\u200d👩\u200d👧 👩🏽\u200d💻 👍🏿 🇯🇵 🇫🇷 1\ufe0f\u20e3 ❤\ufe0f",   # ZWJ, skin tones, flags, keycap
    "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",   # a subdivision flag
    "ㅤhi \u2800 there",                                         # fillers beside real text are left alone
])
def test_real_scripts_and_emoji_survive_unchanged(streamer, viewer, chat_client, text):
    bob = chat_client("bob")
    bob.join("streamer")
    ack = bob.send("streamer", text)
    assert ack["ok"], ack
    assert db.session.get(ChatMessage, ack["id"]).text == text
    assert bob.events("message")[0]["text"] == text


def test_stacked_combining_marks_are_capped_per_character(streamer, viewer, chat_client):
    bob = chat_client("bob")
    bob.join("streamer")
    zalgo = ("Z" + "\u0336\u0301\u0300\u0302\u0303" * 10 + "a" + "\u0489" * 8
             + "l\u200d\u0301\u200d\u0301\u200d\u0301\u200d\u0301")
    ack = bob.send("streamer", zalgo)
    stored = db.session.get(ChatMessage, ack["id"]).text
    assert stored == "Z\u0336\u0301\u0300" + "a\u0489\u0489\u0489" + "l" + "\u200d\u0301" * 3 + "\u200d"
    assert bob.events("message")[0]["text"] == stored


@pytest.mark.parametrize("after", [10**30, 2**64, 2**63, 2**63 - 1, 2**31, -1, 1.5, True, "12"])
@pytest.mark.both_databases  # ids at the edge of each database's INTEGER
def test_join_after_beyond_any_id_is_a_bad_request(streamer, viewer, chat_client, after):
    anon = chat_client()
    ack = anon.emit("join", {"channel": "streamer", "after": after})
    assert ack["ok"] is False and ack["code"] == "bad_request"
    assert anon.events("error")[0]["code"] == "bad_request"
    assert anon.sio.is_connected("/chat")


@pytest.mark.both_databases  # ids at the edge of each database's INTEGER
def test_join_after_the_largest_id_reaches_the_database_and_finds_nothing(streamer, viewer, chat_client):
    bob = chat_client("bob")
    bob.send("streamer", "hello")
    state = bob.join("streamer", after=2**31 - 1)
    assert state["ok"] and state["messages"] == []
    assert [m["text"] for m in bob.join("streamer", after=0)["messages"]] == ["hello"]


@pytest.mark.parametrize("others", [0, 1], ids=["alone", "others-connected"])
def test_a_join_from_a_socket_that_has_already_left_is_dropped_quietly(app, streamer, chat_client, others):
    """A browser that leaves the page at once disconnects while its join is handled (threads):
    Socket.IO no longer knows the socket, and the join answers not-ok instead of raising (a
    ValueError with nobody else connected, a KeyError with others)."""
    from flask import request

    from app.chat import events
    from app.chat.services import NAMESPACE

    for _ in range(others):
        chat_client().join("streamer")
    with app.test_request_context("/socket.io/"):
        request.sid = "left-already"  # type: ignore[attr-defined]
        request.namespace = NAMESPACE  # type: ignore[attr-defined]
        assert events._enter("channel:1") is False
