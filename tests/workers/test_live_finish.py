"""After a session ends: its output kept as a recording (with the manifest the VOD job reads) or
deleted, safely twice, and run by a real RQ worker by its dotted name."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from rq import Queue

from app.extensions import db, get_redis
from app.jobs import enqueue, vod_job_id
from app.live.lease import Lease
from app.live.state import RECORDING_MANIFEST, LiveKeys, hls_dir, new_internal_name, work_dir
from tests.e2e.conftest import ROOT
from tests.factories import make_live, make_user
from workers import context
from workers.live.finish import finish_session


@pytest.fixture
def job_app(make_app, tmp_path, monkeypatch):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=queue)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app
        Queue(queue, connection=get_redis()).delete(delete_jobs=True)


def live_session(username: str, *, record: bool = True):
    """A live session with an internal name the live runtime accepts (the factory's is shorter)."""
    user = make_user(username)
    user.channel.record = record
    session = make_live(user)
    session.internal_name = new_internal_name()
    db.session.commit()
    return session


def fake_output(app, session):
    out = hls_dir(app.config, session.internal_name)
    for rung in ("720p", "360p"):
        (out / rung).mkdir(parents=True)
        (out / rung / "init-5-x.mp4").write_bytes(b"init")
        for n in (5, 6, 10):
            (out / rung / f"seg_{n}.m4s").write_bytes(b"seg")
    (out / "master.m3u8").write_text("#EXTM3U\n")
    work_dir(app.config, session.internal_name).mkdir(parents=True)
    return out


def end(session) -> None:
    session.status = "ended"
    db.session.commit()


def test_finish_keeps_a_recording_with_a_manifest(job_app):
    session = live_session("rec")
    out = fake_output(job_app, session)
    assert finish_session(session.id) == "still open"
    assert not (out / RECORDING_MANIFEST).exists()
    end(session)
    assert finish_session(session.id) == "kept"
    assert finish_session(session.id) == "kept"  # twice is fine
    manifest = json.loads((out / RECORDING_MANIFEST).read_text())
    assert manifest["session_id"] == session.id and manifest["internal_name"] == session.internal_name
    assert manifest["rungs"]["720p"] == {"inits": ["init-5-x.mp4"],
                                         "segments": ["seg_5.m4s", "seg_6.m4s", "seg_10.m4s"]}
    assert manifest["master"] == "master.m3u8"
    assert not work_dir(job_app.config, session.internal_name).exists()  # scratch files go
    # The VOD job is queued once, however often the session is finished.
    assert Queue(job_app.config["RQ_QUEUE"], connection=get_redis()).job_ids == [vod_job_id(session.id)]


def test_the_manifest_leaves_out_renditions_added_live_which_record_nothing(job_app):
    session = live_session("added")
    out = hls_dir(job_app.config, session.internal_name)
    for rung in ("720p", "480p"):
        (out / rung).mkdir(parents=True)
        (out / rung / "init-0.mp4").write_bytes(b"init")
        for n in (40, 41):
            (out / rung / f"s{n}.m4s").write_bytes(b"seg")
    (out / "720p" / "recording.m3u8").write_text("#EXTM3U\n")  # the passthrough records; 480p was added
    end(session)
    assert finish_session(session.id) == "kept"
    manifest = json.loads((out / RECORDING_MANIFEST).read_text())
    assert list(manifest["rungs"]) == ["720p"] and manifest["rungs"]["720p"]["playlist"] == "recording.m3u8"


def test_finish_deletes_the_output_when_recording_is_off(job_app):
    session = live_session("norec", record=False)
    end(session)
    out = fake_output(job_app, session)
    assert finish_session(session.id) == "deleted"
    assert not out.exists()
    assert finish_session(session.id) == "deleted"
    assert finish_session(999_999) == "missing"
    assert Queue(job_app.config["RQ_QUEUE"], connection=get_redis()).job_ids == []


def test_finish_of_a_session_that_recorded_nothing(job_app):
    session = live_session("silent")
    end(session)
    assert finish_session(session.id) == "nothing recorded"


def test_finish_lets_the_sessions_live_host_write_its_last_segment_first(job_app):
    session = live_session("lastword")
    out = fake_output(job_app, session)
    end(session)
    lease = Lease.acquire(get_redis(), LiveKeys(job_app.config), session.id, "box-a")
    assert lease is not None

    def last_segment():
        (out / "720p" / "seg_11.m4s").write_bytes(b"seg")
        lease.release()

    timer = threading.Timer(0.6, last_segment)
    started = time.monotonic()
    timer.start()
    try:
        assert finish_session(session.id) == "kept"
    finally:
        timer.join()
    assert time.monotonic() - started >= 0.5
    assert json.loads((out / RECORDING_MANIFEST).read_text())["rungs"]["720p"]["segments"][-1] == "seg_11.m4s"


@pytest.mark.e2e
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_real_burst_worker_runs_finish_session_by_dotted_name(make_app, sqlite_url, tmp_path):
    """`python -m workers --burst`: the job runs in a forked work horse with the app context."""
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    media = tmp_path / "media"
    app = make_app(MEDIA_ROOT=str(media), RQ_QUEUE=queue_name)
    with app.app_context():
        session = live_session("burst")
        end(session)
        out = hls_dir(app.config, session.internal_name)
        (out / "720p").mkdir(parents=True)
        (out / "720p" / "seg_1.m4s").write_bytes(b"seg")
        enqueue("workers.live.finish.finish_session", session.id)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update({"DATABASE_URL": sqlite_url, "REDIS_URL": app.config["REDIS_URL"], "RQ_QUEUE": queue_name,
                "MEDIA_ROOT": str(media), "SECRET_KEY": "x" * 32, "HOOK_SECRET": "y" * 32})
    try:
        result = subprocess.run([sys.executable, "-m", "workers", "--burst", "--wait", "5"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((out / RECORDING_MANIFEST).read_text())
        assert manifest["rungs"] == {"720p": {"inits": [], "segments": ["seg_1.m4s"]}}
    finally:
        with app.app_context():
            Queue(queue_name, connection=get_redis()).delete(delete_jobs=True)
