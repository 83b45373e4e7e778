"""VOD rules: who sees which videos, publish/unpublish/rename, chat replay windows, the
"processing" notice, download names and deleting, on both databases."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import VOD
from app.models.types import utcnow
from app.storage.backends import get_storage
from app.vods import services
from tests.factories import make_user
from tests.vods.factory import ended_session, make_vod, say

# Replay windows and the processing notice are date queries; lists order NULLs per dialect.
pytestmark = pytest.mark.both_databases


@pytest.fixture
def owner(app):
    return make_user("streamer")


def test_owner_and_admin_see_every_vod_others_only_published_newest_first(owner):
    now = utcnow()
    old_public = make_vod(owner, title="old", public=True, created_at=now - timedelta(days=2))
    private = make_vod(owner, title="mid", created_at=now - timedelta(days=1))
    new_public = make_vod(owner, title="new", public=True, created_at=now)
    admin, other = make_user("boss", admin=True), make_user("viewer")
    everything = [new_public.id, private.id, old_public.id]
    assert [v.id for v in services.vods_for(owner.channel, owner)] == everything
    assert [v.id for v in services.vods_for(owner.channel, admin)] == everything
    assert [v.id for v in services.vods_for(owner.channel, other)] == [new_public.id, old_public.id]
    assert [v.id for v in services.vods_for(owner.channel, None)] == [new_public.id, old_public.id]


def test_pages_grow_by_page_size_and_say_whether_more_exist(owner, monkeypatch):
    monkeypatch.setattr(services, "PAGE_SIZE", 2)
    for n in range(5):
        make_vod(owner, public=True, objects=False, title=f"v{n}")
    first, more = services.page_of_vods(owner.channel, None, 1)
    assert [v.title for v in first] == ["v4", "v3"] and more
    three, more = services.page_of_vods(owner.channel, None, 3)
    assert len(three) == 5 and not more
    zero, _ = services.page_of_vods(owner.channel, None, 0)  # nonsense pages count as the first
    assert len(zero) == 2


def test_publish_sets_published_at_and_unpublish_clears_it(owner):
    vod = make_vod(owner, objects=False)
    assert vod.visibility == "private" and vod.published_at is None
    services.publish(vod)
    db.session.expire_all()
    vod = db.session.get(VOD, vod.id)
    assert vod.visibility == "public" and vod.published_at is not None
    assert abs((utcnow() - vod.published_at).total_seconds()) < 60
    services.unpublish(vod)
    db.session.expire_all()
    vod = db.session.get(VOD, vod.id)
    assert vod.visibility == "private" and vod.published_at is None
    with pytest.raises(services.VodError):
        services.set_visibility(vod, "everyone")
    assert db.session.get(VOD, vod.id).visibility == "private"


def test_rename_cleans_whitespace_and_refuses_empty_or_long_titles(owner):
    vod = make_vod(owner, title="Before", objects=False)
    services.rename(vod, "  Speedrun \n  night\t")
    assert db.session.get(VOD, vod.id).title == "Speedrun night"
    services.rename(vod, "x" * 140)
    assert db.session.get(VOD, vod.id).title == "x" * 140
    for bad in ("", "   \n ", "\u200b", "y" * 141, None):
        with pytest.raises(services.VodError) as caught:
            services.rename(vod, bad)
        assert caught.value.field == "title"
        db.session.rollback()
        assert db.session.get(VOD, vod.id).title == "x" * 140


def test_replay_gives_the_sessions_visible_messages_in_a_window(owner):
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    vod = make_vod(owner, started_at=start, objects=False)
    other_vod = make_vod(owner, started_at=start, objects=False)
    fan = make_user("fan")
    zero = say(vod, fan, "at zero", start)
    first = say(vod, fan, "ten seconds in", start + timedelta(seconds=10))
    say(vod, fan, "held by automod", start + timedelta(seconds=11), state="held")
    say(vod, fan, "deleted by a mod", start + timedelta(seconds=12), state="deleted")
    say(other_vod, fan, "another broadcast", start + timedelta(seconds=13))
    last = say(vod, fan, "a minute in", start + timedelta(seconds=60))
    say(vod, fan, "too late", start + timedelta(seconds=61))

    found = services.replay_messages(vod, start, start + timedelta(seconds=60))
    assert [m.id for m in found] == [first.id, last.id]  # after is exclusive, until inclusive
    # Asking for more than a window gets one window.
    assert [m.text for m in services.replay_messages(vod, start, start + timedelta(hours=2))] == \
        ["ten seconds in", "a minute in"]
    assert services.replay_messages(vod, start + timedelta(seconds=30), start) == []
    assert [m.id for m in services.replay_messages(vod, start - timedelta(seconds=1), limit=1)] == [zero.id]


def test_replay_items_are_the_live_chat_fragment_with_text_escaped(app, owner):
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    vod = make_vod(owner, started_at=start, objects=False)
    message = say(vod, make_user("fan"), "<script>alert(1)</script> hi", start + timedelta(seconds=5))
    with app.test_request_context():  # rendered as a request would, like live chat
        [item] = services.replay_items(vod, services.replay_messages(vod, start))
    assert item["id"] == message.id
    assert datetime.fromisoformat(item["ts"]) == start + timedelta(seconds=5)
    assert f'id="chat-{message.id}"' in item["html"] and 'class="chat-line"' in item["html"]
    assert "<script>" not in item["html"] and "&lt;script&gt;" in item["html"]


def test_a_vod_without_a_session_has_no_replay(owner):
    vod = make_vod(owner, objects=False)
    vod.session_id = None
    db.session.commit()
    assert services.replay_messages(vod, utcnow() - timedelta(days=1)) == []
    assert services.replay_context(vod, utcnow()) == []


def test_replay_context_is_the_last_messages_before_a_moment_however_long_ago(owner):
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    vod = make_vod(owner, started_at=start, objects=False)
    other_vod = make_vod(owner, started_at=start, objects=False)
    fan = make_user("fan")
    said = [say(vod, fan, f"line {n}", start + timedelta(minutes=n)) for n in range(25)]
    say(vod, fan, "deleted by a mod", start + timedelta(minutes=24, seconds=30), state="deleted")
    say(other_vod, fan, "another broadcast", start + timedelta(minutes=24, seconds=40))
    say(vod, fan, "after the moment", start + timedelta(minutes=40))
    # Twenty minutes of silence before the seek do not leave the panel empty.
    found = services.replay_context(vod, start + timedelta(minutes=44))
    assert [m.text for m in found] == [f"line {n}" for n in range(6, 25)] + ["after the moment"]
    assert found[0].id == said[6].id
    at_line_3 = services.replay_context(vod, start + timedelta(minutes=3))  # inclusive, oldest first
    assert [m.text for m in at_line_3] == ["line 0", "line 1", "line 2", "line 3"]
    assert [m.text for m in services.replay_context(vod, start + timedelta(minutes=3), count=2)] == ["line 2", "line 3"]
    assert services.replay_context(vod, start - timedelta(seconds=1)) == []


def test_replay_leaves_out_an_account_awaiting_erasure_until_it_cancels(owner):
    """An account its owner asked to delete leaves the replay at once, as it leaves live chat."""
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    vod = make_vod(owner, started_at=start, objects=False)
    fan, leaving = make_user("fan"), make_user("leaving")
    say(vod, fan, "stays", start + timedelta(seconds=10))
    say(vod, leaving, "goes", start + timedelta(seconds=20))
    leaving.erase_after = start + timedelta(days=30)
    db.session.commit()
    assert [m.text for m in services.replay_messages(vod, start)] == ["stays"]
    assert [m.text for m in services.replay_context(vod, start + timedelta(minutes=1))] == ["stays"]
    leaving.erase_after = None  # cancelled within the grace: the lines come back
    db.session.commit()
    assert [m.text for m in services.replay_messages(vod, start)] == ["stays", "goes"]


@pytest.mark.parametrize("seconds, shown", [(8.5, "0:09"), (8.49, "0:08"), (9.5, "0:10"), (3599.5, "1:00:00")])
def test_durations_round_half_up_as_the_player_does(seconds, shown):
    assert services.format_duration(seconds) == shown


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T20:00:05Z", datetime(2026, 3, 1, 20, 0, 5, tzinfo=UTC)),
    ("2026-03-01T20:00:05.250Z", datetime(2026, 3, 1, 20, 0, 5, 250000, tzinfo=UTC)),
    ("2026-03-01T21:00:05+01:00", datetime(2026, 3, 1, 20, 0, 5, tzinfo=UTC)),
    ("2026-03-01T20:00:05", datetime(2026, 3, 1, 20, 0, 5, tzinfo=UTC)),
])
def test_parse_instant_reads_iso_times_as_utc(text, expected):
    assert services.parse_instant(text, "after") == expected


@pytest.mark.parametrize("text", ["", None, "yesterday", "2026-13-01T00:00:00Z", "1700000000"])
def test_parse_instant_refuses_anything_else(text):
    with pytest.raises(services.VodError) as caught:
        services.parse_instant(text, "after")
    assert "after" in caught.value.message


def test_processing_shows_for_a_recent_recorded_broadcast_without_a_vod(owner):
    owner.channel.record = True
    db.session.commit()
    assert services.processing_notice(owner.channel) is None  # never streamed
    session = ended_session(owner, ended_ago=timedelta(seconds=20))
    assert services.processing_notice(owner.channel) == services.Processing(session)
    owner.channel.record = False
    db.session.commit()
    assert services.processing_notice(owner.channel) is None
    owner.channel.record = True
    session.ended_at = utcnow() - services.PROCESSING_FOR - timedelta(minutes=1)
    db.session.commit()
    assert services.processing_notice(owner.channel) is None  # no job to ask, and long ago
    make_vod(owner, objects=False)  # a newer session that already has its VOD
    assert services.processing_notice(owner.channel) is None


@pytest.mark.parametrize("title, expected", [
    ("Speedrun night", "Speedrun night.mp4"),
    ('He said "hi"; rm -rf / \\ ok', "He said hi rm -rf ok.mp4"),
    ("Café ☕ stream", "Cafe stream.mp4"),
    ("☕☕☕", "broadcast-{id}.mp4"),
    ("../../etc/passwd", "etcpasswd.mp4"),
])
def test_download_names_are_safe(owner, title, expected):
    vod = make_vod(owner, title=title, objects=False)
    assert services.download_name(vod) == expected.format(id=vod.id)


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (59.6, "1:00"), (75, "1:15"), (3600, "1:00:00"),
                                           (4000, "1:06:40"), (None, "0:00")])
def test_durations_read_like_a_player(seconds, text):
    assert services.format_duration(seconds) == text


def test_open_download_streams_the_mp4_and_fails_cleanly_when_missing(owner):
    vod = make_vod(owner)
    chunks, size = services.open_download(vod)
    assert size == len(b"".join(services.open_download(vod)[0]))
    assert b"".join(chunks).startswith(b"\x00\x00\x00\x18ftyp")
    get_storage().delete(vod.download_key)
    with pytest.raises(FileNotFoundError):
        services.open_download(vod)


def test_delete_vod_removes_its_objects_and_row_only(owner):
    vod, keep = make_vod(owner), make_vod(owner)
    storage = get_storage()
    assert services.delete_vod(vod) == 5
    assert db.session.get(VOD, vod.id) is None
    assert list(storage.list(vod.storage_prefix)) == []
    assert len(list(storage.list(keep.storage_prefix))) == 5
