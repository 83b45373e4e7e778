"""Enqueueing RQ jobs by dotted name: the one way the web side hands work to the workers."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from rq import Queue

from .extensions import get_redis


def queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())


def enqueue(func_path: str, *args, job_id: str | None = None, job_timeout: int | str = "10m",
            **kwargs):
    """Run `func_path(*args, **kwargs)` on a worker; jobs take ids, never ORM objects.

    A job that lasts as long as a broadcast passes `job_timeout=-1` (no limit).
    """
    return queue().enqueue(func_path, args=args, kwargs=kwargs, job_id=job_id,
                           job_timeout=job_timeout, result_ttl=3600, failure_ttl=24 * 3600)


def enqueue_in(delay: timedelta, func_path: str, *args, **kwargs):
    """Run a job after `delay` (the worker runs RQ's scheduler)."""
    return queue().enqueue_in(delay, func_path, args=args, kwargs=kwargs,
                              result_ttl=3600, failure_ttl=24 * 3600)
