"""Enqueueing RQ jobs by dotted name: the one way the web side hands work to the workers."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from rq import Queue, Retry

from .extensions import get_redis

if TYPE_CHECKING:
    from redis import Redis
    from rq.job import Job


def queue_name() -> str:
    """RQ carries short jobs only (VODs, retention, notifications, session expiry); live sessions
    run on live hosts (workers.live), never as a job."""
    return current_app.config["RQ_QUEUE"]


def queue() -> Queue:
    return Queue(queue_name(), connection=get_redis())


def enqueue(func_path: str, *args, job_id: str | None = None, job_timeout: int | str = "10m",
            retry: Retry | None = None, **kwargs):
    """Run `func_path(*args, **kwargs)` on a worker; jobs take ids, never ORM objects. With
    `retry`, RQ runs a failed job again later (the worker runs RQ's scheduler)."""
    return queue().enqueue(func_path, args=args, kwargs=kwargs, job_id=job_id, retry=retry,
                           job_timeout=job_timeout, result_ttl=3600, failure_ttl=24 * 3600)


def enqueue_in(delay: timedelta, func_path: str, *args, **kwargs):
    """Run a job after `delay` (the worker runs RQ's scheduler)."""
    return queue().enqueue_in(delay, func_path, args=args, kwargs=kwargs,
                              result_ttl=3600, failure_ttl=24 * 3600)


# The job.meta key under which the running VOD job (workers/vod.py) writes the stage it is at;
# the video manager's notice reads it (app.vods.services.processing_notice).
VOD_STAGE = "vod"


def vod_job_id(session_id: int) -> str:
    """The VOD job's id: one per session, named after the queue too, since session ids repeat
    between sites (or test stacks) that share a Redis database."""
    return f"vod-{queue_name()}-{int(session_id)}"


def enqueue_vod(session_id: int):
    """Assemble a finished session's recording into a VOD (workers/vod.py). The job id is the
    session's, so a second enqueue while one is waiting or running adds nothing; RQ retries a
    failed or killed job, and the job itself is safe to run again."""
    from rq import Retry
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    job_id = vod_job_id(session_id)
    try:
        existing = Job.fetch(job_id, connection=get_redis())
        if existing.get_status(refresh=False) in {JobStatus.QUEUED, JobStatus.STARTED,
                                                   JobStatus.SCHEDULED, JobStatus.DEFERRED}:
            return existing
    except NoSuchJobError:
        pass
    return queue().enqueue("workers.vod.build_vod", args=(session_id,), job_id=job_id,
                           job_timeout="2h", result_ttl=3600, failure_ttl=7 * 24 * 3600,
                           retry=Retry(max=3, interval=[10, 60, 300]))


def fetch_vod_job(session_id: int, connection: Redis) -> Job | None:
    """The session's VOD job as RQ last saved it (its status, and `meta[VOD_STAGE]` while it
    runs), or None when RQ has none: not enqueued yet, or its record expired (result_ttl,
    failure_ttl above). Redis errors are the caller's."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(vod_job_id(session_id), connection=connection)
    except NoSuchJobError:
        return None
