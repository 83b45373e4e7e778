"""Handing work to the workers: the VOD job is queued once per session and retried when it fails."""
from __future__ import annotations

from rq import Queue

from app.extensions import get_redis
from app.jobs import enqueue_vod, queue_name, vod_job_id


def test_the_vod_job_is_queued_once_per_session(app):
    first = enqueue_vod(7)
    again = enqueue_vod(7)
    assert first.id == again.id == vod_job_id(7) and vod_job_id(7).endswith("-7")
    assert queue_name() in vod_job_id(7)  # sites sharing a Redis do not share job ids
    queue = Queue(queue_name(), connection=get_redis())
    assert queue.job_ids == [vod_job_id(7)]
    assert first.retries_left == 3 and first.func_name == "workers.vod.build_vod"
    enqueue_vod(8)
    assert queue.job_ids == [vod_job_id(7), vod_job_id(8)]


def test_a_finished_vod_job_can_be_queued_again(app):
    job = enqueue_vod(9)
    queue = Queue(queue_name(), connection=get_redis())
    queue.remove(job.id)
    job.set_status("finished")
    assert enqueue_vod(9).id == vod_job_id(9)
    assert queue.job_ids == [vod_job_id(9)]
