"""The video manager's processing notice reads the VOD job, with real Redis and a real RQ worker
running the real job: waiting, running at a stage, retrying, failed, done without a video; with
Redis away it falls back to the time since the broadcast ended."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask import current_app
from rq import Queue, SimpleWorker
from rq.job import JobStatus

from app import jobs
from app.extensions import db, get_redis
from app.live.state import RECORDING_MANIFEST, hls_dir, new_internal_name
from app.models import Channel, StreamSession
from app.vods import services
from tests.conftest import Actions, page_text
from tests.factories import PASSWORD, make_user
from tests.ports import free_port
from tests.vods.factory import ended_session
from workers import context
from workers import vod as vod_job

HX = {"HX-Request": "true"}
NOTICE = "/dashboard/videos/processing"


@pytest.fixture
def app(make_app, tmp_path, monkeypatch):
    """The web app, which is also the worker's (the job runs in this process)."""
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), STORAGE_ROOT=str(tmp_path / "objects"),
                   RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}", VOD_LOCK_WAIT=1.0)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app


@pytest.fixture
def owner(app):
    user = make_user("streamer")
    user.channel.record = True
    db.session.commit()
    return user


@pytest.fixture
def owner_client(owner, login):
    return login("streamer")


def run_worker(app) -> None:
    """Run what is queued with a real RQ worker, as `python -m workers` would."""
    queue = Queue(app.config["RQ_QUEUE"], connection=get_redis())
    SimpleWorker([queue], connection=get_redis()).work(burst=True)
    db.session.expire_all()


def bad_recording(session) -> None:
    """A recording.json the job refuses (BadRecording), as a corrupt one would be."""
    session.internal_name = new_internal_name()  # the factory's names are not real ones
    db.session.commit()
    directory = hls_dir(current_app.config, session.internal_name)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RECORDING_MANIFEST).write_text("{not json")


def test_a_queued_job_is_processing_however_long_ago_the_broadcast_ended(owner, owner_client):
    session = ended_session(owner, ended_ago=services.PROCESSING_FOR + timedelta(minutes=10))
    assert services.processing_notice(owner.channel) is None  # no job to ask, and long ago
    jobs.enqueue_vod(session.id)
    assert services.processing_notice(owner.channel) == services.Processing(session, stage="waiting for a worker")
    page = page_text(owner_client.get("/dashboard/videos"))
    assert "Processing your last broadcast…" in page and "Now: waiting for a worker." in page
    assert 'hx-trigger="every 5s"' in page


def test_a_running_job_shows_its_stage_and_one_without_a_recording_ends_the_notice(
        app, owner, owner_client, monkeypatch):
    """Before the job ran, the old rule said "processing" for 30 minutes after a broadcast with
    no recording; the finished job now says there is nothing to wait for."""
    session = ended_session(owner, ended_ago=timedelta(seconds=10))
    channel_id = owner.channel.id
    seen = []

    def find_recording(self, work):  # called by the real job, after it saved its first stage
        notice = services.processing_notice(db.session.get(Channel, channel_id))
        seen.append(((notice.session.id, notice.stage, notice.failed), owner_client.get(NOTICE, headers=HX)))
        return None  # no recording, as for a broadcast whose live output is gone

    monkeypatch.setattr(vod_job.VodBuild, "find_recording", find_recording)
    job = jobs.enqueue_vod(session.id)
    run_worker(app)
    [(notice, during)] = seen
    assert notice == (session.id, "finding the recording", False)
    assert "Processing your last broadcast…" in page_text(during)
    assert "Now: finding the recording." in page_text(during) and "HX-Trigger" not in during.headers
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert services.processing_notice(owner.channel) is None
    done = owner_client.get(NOTICE, headers=HX)
    assert "Processing" not in page_text(done) and done.headers["HX-Trigger"] == "vods-changed"


def test_a_failed_run_is_retried_then_a_failed_job_says_so_and_stops_asking(app, owner, owner_client):
    session = ended_session(owner, ended_ago=timedelta(seconds=10))
    bad_recording(session)
    job = jobs.enqueue_vod(session.id)
    run_worker(app)
    assert job.get_status(refresh=True) == JobStatus.SCHEDULED  # RQ retries it in 10 s
    assert services.processing_notice(owner.channel) == services.Processing(session, stage="trying again shortly")
    assert "Now: trying again shortly." in page_text(owner_client.get(NOTICE, headers=HX))

    # Its last retry fails too.
    job.retries_left = 0
    job.save()
    Queue(app.config["RQ_QUEUE"], connection=get_redis()).enqueue_job(job)
    run_worker(app)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert services.processing_notice(owner.channel) == services.Processing(session, failed=True)
    failed = owner_client.get(NOTICE, headers=HX)
    text = page_text(failed)
    assert "Your last broadcast could not be turned into a video." in text and "Processing" not in text
    assert "hx-trigger" not in text and "HX-Trigger" not in failed.headers  # nothing more will change
    page = page_text(owner_client.get("/dashboard/videos"))
    assert "could not be turned into a video" in page and "Processing your last broadcast" not in page


def test_with_redis_away_the_notice_falls_back_to_the_time_since_the_end(make_app, app, owner):
    session = ended_session(owner, ended_ago=timedelta(seconds=10))
    bad_recording(session)
    job = jobs.enqueue_vod(session.id)
    job.retries_left = 0
    job.save()
    run_worker(app)
    assert services.processing_notice(owner.channel).failed  # what Redis would say
    away = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_QUICK_TIMEOUT=0.2,
                    MEDIA_ROOT=app.config["MEDIA_ROOT"])
    with away.app_context():
        channel = db.session.get(Channel, owner.channel.id)
        assert services.processing_notice(channel) == services.Processing(db.session.get(StreamSession, session.id))
        client = away.test_client()
        assert Actions(client).login("streamer", PASSWORD).status_code == 303
        for path, headers in (("/dashboard/videos", {}), (NOTICE, HX)):
            response = client.get(path, headers=headers)
            assert response.status_code == 200
            assert "Processing your last broadcast…" in page_text(response)
        stale = db.session.get(StreamSession, session.id)
        stale.ended_at -= services.PROCESSING_FOR
        db.session.commit()
        assert services.processing_notice(channel) is None
