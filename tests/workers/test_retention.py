"""The hourly retention job: one self-rescheduling chain per Redis, started by the worker, that
expires VODs and sweeps orphans through a real RQ worker."""
from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.extensions import db, get_redis
from app.models import VOD, LoginSession, StreamSession, utcnow
from app.models.vod import vod_prefix
from app.storage.backends import get_storage
from app.vods.retention import RetentionSettingError
from tests.factories import make_user
from workers import __main__ as worker_main
from workers import context, retention

# Retention is date queries (UTC timestamps are stored naive on SQLite).
pytestmark = pytest.mark.both_databases


@pytest.fixture
def job_app(make_app, tmp_path, monkeypatch):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
                   VOD_RETENTION_DAYS=30)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app


def scheduled(app) -> list:
    queue = Queue(app.config["RQ_QUEUE"], connection=get_redis())
    registry = ScheduledJobRegistry(queue=queue)
    return [queue.fetch_job(job_id) for job_id in registry.get_job_ids()]


def old_vod_and_orphan(app) -> tuple[int, str]:
    """An expired VOD with its objects, and a leftover folder no VOD refers to, both days old."""
    user = make_user("alice")
    session = StreamSession(channel=user.channel, internal_name="n1", status="ended",
                            ended_at=utcnow() - timedelta(days=40))
    db.session.add(session)
    db.session.commit()
    vod = VOD(channel_id=user.channel.id, session_id=session.id, object_key=vod_prefix(session.id) + "master.m3u8",
              storage_prefix=vod_prefix(session.id), created_at=utcnow() - timedelta(days=40))
    db.session.add(vod)
    db.session.add(LoginSession(user_id=user.id, token_hash="0" * 64, last_seen_at=utcnow() - timedelta(days=40)))
    db.session.commit()
    storage = get_storage()
    storage.put_bytes(vod.object_key, b"#EXTM3U\n", None)
    storage.put_bytes("vods/424242/master.m3u8", b"#EXTM3U\n", None)
    old = time.time() - 3 * 86400
    for path in Path(storage.root).rglob("*"):
        os.utime(path, (old, old))
    return vod.id, "vods/424242/master.m3u8"


def test_chain_starts_once_and_reschedules_itself(job_app):
    assert retention.start_retention() is True
    assert retention.start_retention() is False  # one chain per Redis
    (job,) = scheduled(job_app)
    assert job.func_name == "workers.retention.run_retention" and job.kwargs == {"reschedule": True}
    assert job.timeout == retention.RUN_TIMEOUT
    assert retention.run_retention(reschedule=True) == {
        "expired": 0, "expire_failed": 0, "vods": 0, "hls": 0, "local-hls": 0, "thumbnails": 0,
        "profiles": 0, "requeued": 0, "sweep_failed": 0, "logins": 0, "exports": 0, "erased": 0,
        "erasure_held": 0, "erasure_failed": 0, "suspensions_ended": 0,
        "dmca_restored": 0, "viewer_sessions": 0, "stream_minutes": 0, "reports_pruned": 0,
        "dmca_notices_pruned": 0}
    assert len(scheduled(job_app)) == 2
    assert get_redis().ttl(retention.CHAIN_KEY.format(job_app.config["RQ_QUEUE"])) > 0


def test_worker_process_starts_the_chain_once(job_app):
    worker_main.start_retention_chain()
    worker_main.start_retention_chain()  # a second worker process, or a restart
    assert sorted(job.func_name for job in scheduled(job_app)) == [
        "workers.analytics.run_rollups", "workers.retention.run_retention"]


def test_a_worker_runs_expiry_then_the_sweep(job_app):
    vod_id, orphan = old_vod_and_orphan(job_app)
    queue = Queue(job_app.config["RQ_QUEUE"], connection=get_redis())
    job = queue.enqueue("workers.retention.run_retention")
    SimpleWorker([queue], connection=get_redis()).work(burst=True)
    job.refresh()
    assert job.is_finished, job.latest_result().exc_string if job.latest_result() else job.get_status()
    assert job.return_value()["expired"] == 1 and job.return_value()["vods"] == 1
    assert job.return_value()["logins"] == 1  # old_vod_and_orphan's login, unseen for 40 days
    db.session.rollback()
    assert db.session.scalars(select(VOD.id)).all() == []
    assert list(get_storage().list("vods/")) == []
    assert scheduled(job_app) == []  # without reschedule, no chain


def test_a_run_skips_while_another_holds_the_lock_and_still_reschedules(job_app):
    vod_id, orphan = old_vod_and_orphan(job_app)
    get_redis().set(retention.RUNNING_KEY.format(job_app.config["RQ_QUEUE"]), "1", ex=60)
    assert retention.run_retention(reschedule=True) is None
    assert db.session.get(VOD, vod_id) is not None and get_storage().exists(orphan)
    assert len(scheduled(job_app)) == 1


def test_a_failing_run_still_reschedules(make_app, tmp_path, monkeypatch):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
                   VOD_RETENTION_DAYS=-1)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        with pytest.raises(RetentionSettingError):
            retention.run_retention(reschedule=True)
        assert len(scheduled(app)) == 1
        assert not get_redis().exists(retention.RUNNING_KEY.format(app.config["RQ_QUEUE"]))
