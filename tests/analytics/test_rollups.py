"""Player beats → Redis → the rollup job → viewer sessions, minutes, days and a broadcast's
summary: numbers that add up, nothing counted twice, no address kept, retention by the job."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.analytics import collect, reports, rollups
from app.extensions import db, get_redis
from app.models import ChannelDay, StreamMinute, StreamSession, ViewerSession
from tests.factories import beat, make_live, make_user

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Mobile Safari/537.36")
ADDRESS = "198.51.100.7"


@pytest.fixture
def live(app):
    alice = make_user("alice")
    session = make_live(alice)
    session.started_at = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    return session


def send(client, session, body, address: str = ADDRESS, agent: str = CHROME):
    return client.post(f"/api/v1/channels/{session.channel.slug}/watch", json=body,
                       environ_base={"REMOTE_ADDR": address}, headers={"User-Agent": agent})


def qoe_beat(session, viewer: str, seq: int, state: str = "playing", **fields) -> dict:
    return {**beat(session.channel, viewer, state), "seq": seq, **fields}


def watch(client, session, viewer: str, beats: int, address: str = ADDRESS, agent: str = CHROME, **every):
    """A player that starts (800 ms to the first frame) then plays `beats` × 10 s at 720p."""
    send(client, session, qoe_beat(session, viewer, 1, "starting"), address, agent)
    for seq in range(2, beats + 2):
        body = qoe_beat(session, viewer, seq, play_ms=10_000, renditions={"720": 10_000}, latency_ms=1600,
                        target_ms=1000, frames=300, **every)
        if seq == 2:
            body["startup_ms"] = 800
        assert send(client, session, body, address, agent).status_code == 200


def test_three_viewers_add_up_in_sessions_minutes_and_the_summary(client, live):
    watch(client, live, "viewer-one-0001", 6)
    watch(client, live, "viewer-two-0002", 6, address="203.0.113.9", agent=PHONE)
    watch(client, live, "viewer-three-03", 3, address="192.0.2.44", rebuffer_ms=500, rebuffers=1,
          by_rendition={"720": {"rebuffer_ms": 500, "upscale_ms": 0, "dropped": 3, "frames": 300}})
    written = rollups.write_dirty(get_redis())
    assert written["sessions"] == 3

    sessions = {s.play_id: s for s in db.session.scalars(select(ViewerSession))}
    assert sessions["viewer-one-0001"].play_s == pytest.approx(60.0)
    assert sessions["viewer-one-0001"].renditions == {"720": pytest.approx(60.0)}
    assert sessions["viewer-one-0001"].startup_ms == 800
    assert sessions["viewer-two-0002"].device == "phone"
    assert sessions["viewer-three-03"].rebuffers == 3 and sessions["viewer-three-03"].rebuffer_s == pytest.approx(1.5)
    assert sessions["viewer-one-0001"].joined_after_s == pytest.approx(300, abs=5)
    minutes = db.session.scalars(select(StreamMinute)).all()
    assert sum(m.play_s for m in minutes) == pytest.approx(150.0)
    assert sum(m.present_s for m in minutes) == pytest.approx(151.5)
    assert sum(m.joins for m in minutes) == 3 and max(m.viewers_max for m in minutes) == 3
    assert sum(sum(m.startup.values()) for m in minutes) == 3

    # The broadcast ends; once every viewer has gone silent the job closes them and summarises.
    live.ended_at = datetime.now(UTC) - timedelta(seconds=rollups.SUMMARY_AFTER + 1)
    db.session.commit()
    rollups.write_dirty(get_redis(), now=datetime.now(UTC).timestamp() + collect.WINDOW_SECONDS + 1)
    assert rollups.summarize_due() == [live.id]
    summary = db.session.get(StreamSession, live.id).summary
    assert summary["peak"] == 3 and summary["uniques"] == 3 and summary["views"] == 3
    assert summary["watch_s"] == pytest.approx(150.0) and summary["average_view_s"] == pytest.approx(50.0)
    assert summary["leaves"] == 3
    assert summary["qoe"]["startups"] == 3 and 500 <= summary["qoe"]["startup_p50_ms"] <= 1000
    assert summary["qoe"]["rebuffer_ratio"] == pytest.approx(1.5 / 151.5)
    assert summary["qoe"]["latency_p50_ms"] == pytest.approx(1500, abs=500)
    assert summary["qoe"]["target_latency_ms"] == 1000
    [rung] = summary["qoe"]["by_rendition"]
    assert rung["height"] == "720" and rung["play_s"] == pytest.approx(150.0)
    assert rung["rebuffer_ratio"] == pytest.approx(1.5 / 151.5) and rung["dropped_ratio"] == pytest.approx(0.01)
    assert dict(summary["devices"]) == {"desktop": 2, "phone": 1}
    assert summary["retention"][0] == [0, 100.0]
    day = db.session.scalars(select(ChannelDay)).one()
    assert day.play_s == pytest.approx(150.0) and day.views == 3 and day.uniques == 3


def test_a_repeated_beat_is_counted_once_and_a_rerun_job_writes_the_same_rows(client, live):
    body = qoe_beat(live, "viewer-repeat-01", 1, play_ms=10_000)
    send(client, live, body)
    send(client, live, body)  # a retried request
    rollups.write_dirty(get_redis())
    assert db.session.scalars(select(ViewerSession)).one().play_s == pytest.approx(10.0)
    # A job killed after writing and before clearing the dirty set: the next run writes it again.
    base = collect.prefix()
    for key in get_redis().keys(f"{base}:*:{collect.live_subject(live.id)}:*"):
        get_redis().zadd(f"{base}:dirty", {key: 1})
    rollups.write_dirty(get_redis())
    assert db.session.scalars(select(ViewerSession)).one().play_s == pytest.approx(10.0)
    assert sum(m.play_s for m in db.session.scalars(select(StreamMinute))) == pytest.approx(10.0)


def test_a_paused_player_is_not_watch_time_and_a_closed_tab_leaves(client, live):
    send(client, live, qoe_beat(live, "viewer-pause-01", 1, play_ms=4000))
    for seq in range(2, 6):
        send(client, live, qoe_beat(live, "viewer-pause-01", seq, "paused"))
    send(client, live, qoe_beat(live, "viewer-pause-01", 6, "ended", play_ms=2000))
    rollups.write_dirty(get_redis())
    session = db.session.scalars(select(ViewerSession)).one()
    assert session.play_s == pytest.approx(6.0) and session.ended_at is not None
    minutes = db.session.scalars(select(StreamMinute)).all()
    assert sum(m.joins for m in minutes) == 1 and sum(m.leaves for m in minutes) == 1


def test_bad_fields_are_refused_and_change_nothing(client, live):
    for body, message in [({"play_ms": "lots"}, "play_ms must be a number"),
                          ({"renditions": {"high": 5}}, "renditions"),
                          ({"ranges": [[1, "x"]]}, "ranges"), ({"seq": -1}, "seq")]:
        answer = send(client, live, {**beat(live.channel, "viewer-bad-0001"), **body})
        assert answer.status_code == 400 and message in answer.get_json()["message"]
    assert not get_redis().keys(f"{collect.prefix()}:*")
    assert rollups.write_dirty(get_redis())["sessions"] == 0


def test_programs_and_forged_tokens_record_nothing(client, live):
    send(client, live, qoe_beat(live, "viewer-curl-0001", 1, play_ms=10_000), agent="curl/8.5.0")
    send(client, live, {**qoe_beat(live, "viewer-forge-001", 1, play_ms=10_000), "token": "forged"})
    assert rollups.write_dirty(get_redis())["sessions"] == 0


def test_no_address_is_kept_in_redis_or_the_database(client, live):
    watch(client, live, "viewer-private-1", 2, referrer="news.example.org")
    rollups.write_dirty(get_redis())
    redis = get_redis()
    for key in redis.keys("*"):
        assert ADDRESS.encode() not in key
        kind = redis.type(key)
        dump = {b"hash": lambda k: json.dumps({a.decode(errors="replace"): b.decode(errors="replace")
                                               for a, b in redis.hgetall(k).items()}),
                b"zset": lambda k: str(redis.zrange(k, 0, -1)), b"string": lambda k: str(redis.get(k))}
        assert ADDRESS not in dump.get(kind, lambda k: "")(key)
    row = db.session.scalars(select(ViewerSession)).one()
    assert ADDRESS not in json.dumps({c.name: str(getattr(row, c.name)) for c in ViewerSession.__table__.columns})
    assert row.referrer == "news.example.org" and len(row.viewer_key) == 16


def test_a_signed_in_viewer_has_one_key_per_channel(app, live):
    bob = make_user("bob")
    assert collect.signed_in_key(live.channel_id, bob.id) == collect.signed_in_key(live.channel_id, bob.id)
    assert collect.signed_in_key(live.channel_id, bob.id) != collect.signed_in_key(live.channel_id + 1, bob.id)


def test_vod_beats_give_positions_and_retention(client, app):
    from app.models import VOD
    from app.streams.viewers import vod_viewer_token

    alice = make_user("alice")
    vod = VOD(channel_id=alice.channel.id, object_key="vods/x", duration_seconds=100.0, title="A VOD")
    db.session.add(vod)
    db.session.commit()
    url = f"/api/v1/vods/{vod.id}/watch"
    token = vod_viewer_token(vod.id)
    for viewer, ranges, address in [("vod-viewer-0001", [[0, 49.5]], ADDRESS),
                                    ("vod-viewer-0002", [[0, 9.5], [90, 99.9]], "203.0.113.9")]:
        answer = client.post(url, json={"viewer": viewer, "token": token, "state": "playing", "seq": 1,
                                        "play_ms": 20_000, "ranges": ranges},
                             environ_base={"REMOTE_ADDR": address}, headers={"User-Agent": CHROME})
        assert answer.status_code == 204
    assert client.post(url, json={"viewer": "vod-viewer-0003", "token": vod_viewer_token(vod.id + 1),
                                  "play_ms": 5000}, headers={"User-Agent": CHROME}).status_code == 204
    rollups.write_dirty(get_redis())
    figures = reports.vod_figures(vod)
    retention = dict(figures["retention"])
    assert retention[0] == 100.0 and retention[30] == 50.0 and retention[95] == 50.0 and retention[70] == 0.0
    assert figures["watch_s"] == pytest.approx(40.0) and figures["views"] == 2


def test_retention_deletes_raw_sessions_and_minutes_but_keeps_days(client, live, app):
    watch(client, live, "viewer-old-0001", 2)
    rollups.write_dirty(get_redis())
    rollups.roll_days({(live.channel_id, datetime.now(UTC).date())})
    later = datetime.now(UTC) + timedelta(days=app.config["ANALYTICS_MINUTE_DAYS"] + 1)
    minutes = len(db.session.scalars(select(StreamMinute)).all())  # one, or two across a minute's turn
    assert rollups.expire(later) == {"viewer_sessions": 1, "stream_minutes": minutes}
    assert not db.session.scalars(select(StreamMinute)).all()
    assert db.session.scalars(select(ChannelDay)).one().play_s == pytest.approx(20.0)


@pytest.mark.both_databases
def test_the_upsert_sets_absolute_values_on_both_databases(app, live):
    row = {"subject": "live:1", "channel_id": live.channel_id, "stream_session_id": live.id, "vod_id": None,
           "minute": datetime(2026, 1, 1, tzinfo=UTC), "play_s": 10.0, "renditions": {}, "startup": {},
           "latency": {}}
    rollups.upsert(StreamMinute, [row], ("subject", "minute"))
    rollups.upsert(StreamMinute, [{**row, "play_s": 25.0}], ("subject", "minute"))
    db.session.commit()
    assert db.session.scalars(select(StreamMinute)).one().play_s == 25.0


def test_percentiles_come_from_histograms():
    histogram = {"250": 50, "500": 40, "1000": 10}
    assert reports.percentile(histogram, 0.5) == pytest.approx(250)
    assert reports.percentile(histogram, 0.95) == pytest.approx(750)
    assert reports.percentile({"0": 3}, 0.5) == 0  # all over the last bound: "at least" it
    assert reports.percentile({}, 0.5) is None
    assert collect.device_class("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)") == "tablet"
    assert collect.referrer_host("evil<script>", "x") is None
    assert collect.referrer_host("Example.COM", "example.com:8080") is None


def test_the_rollup_chain_writes_and_reschedules_itself(client, live, app, monkeypatch):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from workers import analytics as job
    from workers import context

    monkeypatch.setattr(context, "_app", app)
    watch(client, live, "viewer-chain-001", 1)
    registry = ScheduledJobRegistry(queue=Queue(app.config["RQ_QUEUE"], connection=get_redis()))
    assert job.start_rollups() is True and job.start_rollups() is False  # one chain per Redis
    [first] = [registry.job_class.fetch(i, connection=get_redis()) for i in registry.get_job_ids()]
    chain = first.kwargs["chain"]
    found = job.run_rollups(reschedule=True, chain=chain)
    assert found["sessions"] == 1 and found["summarized"] == []
    assert len(registry.get_job_ids()) == 2  # the chain's start, and the run's next
    get_redis().set(job.RUNNING_KEY.format(app.config["RQ_QUEUE"]), "1")
    assert job.run_rollups() is None  # another run holds the lock
    get_redis().delete(job.RUNNING_KEY.format(app.config["RQ_QUEUE"]))
    # A chain whose job was killed lapses; a worker's maintenance starts a new one, and the old
    # chain, should its job still run, hands over instead of running beside it.
    get_redis().delete(job.CHAIN_KEY.format(app.config["RQ_QUEUE"]))
    assert job.start_rollups() is True
    job.run_rollups(reschedule=True, chain=chain)
    assert len(registry.get_job_ids()) == 3  # the old chain did not reschedule itself
    Queue(app.config["RQ_QUEUE"], connection=get_redis()).delete(delete_jobs=True)


def test_beats_reach_the_metrics_once(client, live):
    from prometheus_client.parser import text_string_to_metric_families

    def played() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == "cascade_player_seconds_total" and sample.labels == {
                       "kind": "live", "state": "playing"})

    before = played()
    body = qoe_beat(live, "viewer-metric-01", 1, play_ms=10_000, startup_ms=700)
    send(client, live, body)
    send(client, live, body)  # a repeat: not counted again
    assert played() - before == pytest.approx(10.0)


def test_a_run_the_database_failed_loses_nothing(client, live, monkeypatch):
    """The database away during a run: the dirty set is cleared only after the commit, so the
    next run writes everything."""
    from sqlalchemy.exc import OperationalError

    watch(client, live, "viewer-dbdown-01", 2)
    real = rollups.upsert

    def away(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("the database went away"))

    monkeypatch.setattr(rollups, "upsert", away)
    with pytest.raises(OperationalError):
        rollups.write_dirty(get_redis())
    db.session.rollback()
    monkeypatch.setattr(rollups, "upsert", real)
    assert rollups.write_dirty(get_redis())["sessions"] == 1
    assert db.session.scalars(select(ViewerSession)).one().play_s == pytest.approx(20.0)


def test_a_live_broadcasts_chat_and_follows_reach_its_minutes_while_it_lasts(app, live):
    from app.models import ChatMessage, Follow

    bob, carol = make_user("bob"), make_user("carol")
    now = datetime.now(UTC)
    db.session.add_all([ChatMessage(channel_id=live.channel_id, user_id=bob.id, text="hi", created_at=now),
                        ChatMessage(channel_id=live.channel_id, user_id=carol.id, text="yo", created_at=now),
                        ChatMessage(channel_id=live.channel_id, user_id=bob.id, text="old",
                                    created_at=now - timedelta(minutes=4)),
                        Follow(follower_id=carol.id, channel_id=live.channel_id, created_at=now)])
    db.session.commit()
    assert rollups.fill_live_chat(now) == 1
    [minute] = db.session.scalars(select(StreamMinute)).all()  # the line 4 minutes ago: at the summary
    assert (minute.chat_messages, minute.follows) == (2, 1)
    rollups.fill_live_chat(now)  # the next run counts the same minutes again, not on top
    assert db.session.scalars(select(StreamMinute)).one().chat_messages == 2
