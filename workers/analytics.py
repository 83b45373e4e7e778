"""RQ job: the analytics rollup, every ROLLUP_EVERY seconds — players' sessions and minutes from
Redis into the database, leaves for players gone silent, live broadcasts' chat and follows per
minute, and the summary of each broadcast that ended more than a viewer window ago
(app.analytics.rollups). Each run writes absolute values, so a
run killed half way is simply done again by the next.

Redis keys:
  cascade:analytics:{queue}:chain    held while the self-rescheduling run_rollups chain exists
  cascade:analytics:{queue}:running  held while one run works, so runs never overlap
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import current_app

from app.analytics import rollups
from app.extensions import get_redis
from app.jobs import queue
from workers.context import app_context

log = logging.getLogger(__name__)

CHAIN_KEY = "cascade:analytics:{}:chain"
RUNNING_KEY = "cascade:analytics:{}:running"
ROLLUP_EVERY = 30  # seconds: the live tiles' chart is at most this far behind, summaries ~1 min
RUN_TIMEOUT = 120  # a run takes well under a second; a killed one's lock lapses this soon
# The chain key names the live chain and lapses this long after its last run: a chain whose job
# was killed is restarted by a worker's maintenance (every 15 s) within two minutes.
CHAIN_TTL = 4 * ROLLUP_EVERY


def _chain_key() -> str:
    return CHAIN_KEY.format(current_app.config["RQ_QUEUE"])


def _schedule(chain: str, delay: int) -> None:
    get_redis().set(_chain_key(), chain, ex=CHAIN_TTL)
    queue().enqueue_in(timedelta(seconds=delay), "workers.analytics.run_rollups",
                       kwargs={"reschedule": True, "chain": chain},
                       job_timeout=RUN_TIMEOUT, result_ttl=60, failure_ttl=24 * 3600)


def run_rollups(reschedule: bool = False, chain: str | None = None) -> dict | None:
    """Write what the players reported and summarise ended broadcasts; None when another run
    holds the lock. With `reschedule`, runs again in ROLLUP_EVERY seconds even if this one fails,
    unless another chain has taken over (one whose start found this one lapsed)."""
    with app_context():
        redis = get_redis()
        name = current_app.config["RQ_QUEUE"]
        try:
            if not redis.set(RUNNING_KEY.format(name), "1", nx=True, ex=RUN_TIMEOUT):
                return None
            try:
                written = rollups.write_dirty(redis)
                rollups.fill_live_chat()
                summarized = rollups.summarize_due()
            finally:
                redis.delete(RUNNING_KEY.format(name))
            if written["sessions"] or summarized:
                log.info("analytics: %d sessions, %d minutes, %d days written; summaries of %s",
                         written["sessions"], written["minutes"], written["days"], summarized or "none")
            return {**written, "summarized": summarized}
        finally:
            if reschedule and chain:
                current = redis.get(_chain_key())
                if current is None or current.decode() == chain:
                    _schedule(chain, ROLLUP_EVERY)


def start_rollups() -> bool:
    """Start the run_rollups chain unless a live one exists (needs an app context); a worker
    calls it at start and in its maintenance. True if started."""
    chain = uuid.uuid4().hex
    if not get_redis().set(_chain_key(), chain, nx=True, ex=CHAIN_TTL):
        return False
    _schedule(chain, 1)
    return True
