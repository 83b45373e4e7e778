"""The transcode jobs' pieces that need no ffmpeg: probing, headroom, supervision, finishing."""
from __future__ import annotations

import json
import uuid

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app import jobs
from app.extensions import db, get_redis
from app.media.ladder import Source
from tests.factories import make_live, make_user
from workers import context, transcode


def test_source_from_probe():
    info = {"streams": [
        {"codec_type": "audio", "sample_rate": "48000"},
        {"codec_type": "video", "width": 1280, "height": 720, "avg_frame_rate": "0/0", "r_frame_rate": "30000/1001"},
    ]}
    assert transcode.source_from_probe(info) == Source(1280, 720, 30000 / 1001, True)
    silent = {"streams": [{"codec_type": "video", "width": 640, "height": 360, "avg_frame_rate": "25/1"}]}
    assert transcode.source_from_probe(silent) == Source(640, 360, 25.0, False)
    assert transcode.source_from_probe({"streams": [{"codec_type": "audio"}]}) is None


def test_headroom_waits_for_warmup_and_a_sustained_window():
    watch = transcode.HeadroomWatch(started=0, warmup=10, window=12, min_speed=0.95)
    for t in range(0, 10):
        watch.add(t, 0.3)  # warm-up: ignored
    assert not watch.too_slow(10)
    for t in range(10, 21):
        watch.add(t, 0.8)
        assert not watch.too_slow(t)  # not long enough yet
    for t in range(21, 24):
        watch.add(t, 0.8)
    assert watch.too_slow(23) and watch.mean() == pytest.approx(0.8)


def test_headroom_judges_a_short_window_of_evenly_spaced_samples():
    # ffmpeg reports once a second: a 3 s window holds samples 1 s apart, never a full 3 s span.
    watch = transcode.HeadroomWatch(started=0, warmup=1, window=3, min_speed=0.95)
    decided = [t for t in range(1, 12) if (watch.add(t, 0.5) or watch.too_slow(t))]
    assert decided and decided[0] <= 5


def test_headroom_ignores_a_short_dip_and_a_recovery():
    watch = transcode.HeadroomWatch(started=0, warmup=0, window=12, min_speed=0.95)
    for t in range(0, 30):
        watch.add(t, 0.5 if 10 <= t < 14 else 1.0)
        assert not watch.too_slow(t)
    recovering = transcode.HeadroomWatch(started=0, warmup=0, window=12, min_speed=0.95)
    for t in range(0, 30):
        recovering.add(t, 0.5 if t < 29 else 1.0)
    assert not recovering.too_slow(29)  # the latest sample keeps up again


def test_rung_kbps_from_the_newest_segments(tmp_path):
    (tmp_path / "index.m3u8").write_text("#EXTM3U\n#EXTINF:2.000000,\nseg_1.m4s\n#EXTINF:2.000000,\nseg_2.m4s\n")
    (tmp_path / "seg_1.m4s").write_bytes(b"x" * 250_000)
    (tmp_path / "seg_2.m4s").write_bytes(b"x" * 250_000)
    assert transcode.rung_kbps(tmp_path) == 1000
    assert transcode.rung_kbps(tmp_path / "missing") is None
    assert transcode.parse_speed(" 1.02x") == 1.02 and transcode.parse_speed("N/A") is None


@pytest.fixture
def job_app(make_app, tmp_path, monkeypatch):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=queue)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app
        redis = get_redis()
        for key in redis.scan_iter("cascade:stream:*"):
            redis.delete(key)
        redis.delete(transcode.SUPERVISOR_KEY.format(queue))
        q = Queue(queue, connection=redis)
        registry = ScheduledJobRegistry(queue=q)
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
        q.empty()


def test_supervise_requeues_live_sessions_without_a_worker_once(job_app):
    orphan = make_live(make_user("orphan"))
    tended = make_live(make_user("tended"))
    ended = make_live(make_user("gone"))
    ended.status = "ended"
    db.session.commit()
    redis = get_redis()
    redis.set(transcode.WORKER_KEY.format(tended.id), "someone", ex=10)
    queue = jobs.queue("transcode")  # restarts go to the transcode workers

    assert transcode.supervise_sessions() == 1
    assert transcode.supervise_sessions() == 0  # the restart is already queued
    (job,) = queue.jobs
    assert job.func_name == "workers.transcode.transcode_session" and job.args == (orphan.id,)
    assert job.timeout == -1


def test_supervision_chain_starts_once_and_reschedules_itself(job_app):
    queue = Queue(job_app.config["RQ_QUEUE"], connection=get_redis())
    registry = ScheduledJobRegistry(queue=queue)
    assert transcode.start_supervision() is True
    assert transcode.start_supervision() is False  # one chain only
    assert len(registry.get_job_ids()) == 1
    transcode.supervise_sessions(reschedule=True)
    assert len(registry.get_job_ids()) == 2
    assert get_redis().ttl(transcode.SUPERVISOR_KEY.format(job_app.config["RQ_QUEUE"])) > 0


def test_transcode_of_an_ended_or_missing_session_returns_at_once(job_app):
    session = make_live(make_user("done"))
    session.status = "ended"
    db.session.commit()
    assert transcode.transcode_session(session.id) == "ended"
    assert transcode.transcode_session(999_999) == "ended"


def fake_output(app, session):
    out = transcode.hls_dir(session.internal_name)
    for rung in ("720p", "360p"):
        (out / rung).mkdir(parents=True)
        (out / rung / "init-5-x.mp4").write_bytes(b"init")
        for n in (5, 6, 10):
            (out / rung / f"seg_{n}.m4s").write_bytes(b"seg")
    (out / "master.m3u8").write_text("#EXTM3U\n")
    return out


def test_finish_keeps_a_recording_with_a_manifest(job_app):
    session = make_live(make_user("rec"))
    out = fake_output(job_app, session)
    assert transcode.finish_session(session.id) == "still open"
    session.status = "ended"
    db.session.commit()
    assert transcode.finish_session(session.id) == "kept"
    assert transcode.finish_session(session.id) == "kept"  # twice is fine
    manifest = json.loads((out / "recording.json").read_text())
    assert manifest["session_id"] == session.id and manifest["internal_name"] == session.internal_name
    assert manifest["rungs"]["720p"] == {"inits": ["init-5-x.mp4"],
                                         "segments": ["seg_5.m4s", "seg_6.m4s", "seg_10.m4s"]}


def test_finish_deletes_the_output_when_recording_is_off(job_app):
    user = make_user("norec")
    user.channel.record = False
    session = make_live(user)
    session.status = "ended"
    db.session.commit()
    out = fake_output(job_app, session)
    assert transcode.finish_session(session.id) == "deleted"
    assert not out.exists()
    assert transcode.finish_session(session.id) == "deleted"
    assert transcode.finish_session(999_999) == "missing"


def test_one_job_per_session_and_a_job_whose_worker_died_stops(job_app):
    session = make_live(make_user("holder"))
    first, second = transcode.Transcode(session), transcode.Transcode(session)
    assert first.claim() and not second.claim()
    assert first.heartbeat(force=True) and not second.heartbeat(force=True)
    first.parent_pid = -1  # as if the RQ worker that forked this work horse had died
    assert not first.heartbeat(force=True)
    first.parent_pid = second.parent_pid
    first.release()
    assert second.claim()


def test_thumbnail_padding_is_not_reported_as_the_streams_duplicates():
    assert transcode.thumbnail_padding({"out_time_us": "29000000"}, 30) == 0
    assert transcode.thumbnail_padding({"out_time_us": "61000000"}, 30) == 2 * 899
    assert transcode.thumbnail_padding({"out_time_us": "N/A"}, 30) == 0
