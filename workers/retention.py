"""RQ job: retention every hour — delete expired VODs, then sweep objects nothing refers to,
delete the logins no cookie can use any more, expired data exports, raw analytics sessions and
minute rollups past their days, the personal data of settled trust-and-safety records
(app.privacy.records), and purge the accounts whose erasure grace is over
(app.auth.deletion).

Redis keys:
  cascade:retention:{queue}:chain    held while the self-rescheduling run_retention chain exists
  cascade:retention:{queue}:running  held while one run works, so a slow run and the next never overlap
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from app.analytics.rollups import expire as expire_analytics
from app.auth.deletion import erase_due
from app.auth.sessions import prune_unused
from app.extensions import get_redis
from app.jobs import queue
from app.privacy.exports import expire_exports
from app.privacy.records import prune_safety_records
from app.safety.actions import lift_expired
from app.safety.takedown import restore_due
from app.vods.retention import expire_vods, sweep_orphans
from workers.context import app_context

log = logging.getLogger(__name__)

CHAIN_KEY = "cascade:retention:{}:chain"
RUNNING_KEY = "cascade:retention:{}:running"
RETENTION_EVERY = 3600  # seconds between runs
FIRST_RUN_AFTER = 60  # seconds after a worker starts the chain
RUN_TIMEOUT = 3000  # a run on a big bucket may list many objects; it must end before the next


def _schedule(delay: int) -> None:
    # The chain key outlives a couple of missed runs; once it lapses, the next worker start
    # begins a new chain.
    get_redis().set(CHAIN_KEY.format(current_app.config["RQ_QUEUE"]), "1", ex=RETENTION_EVERY * 3)
    queue().enqueue_in(timedelta(seconds=delay), "workers.retention.run_retention",
                       kwargs={"reschedule": True}, job_timeout=RUN_TIMEOUT,
                       result_ttl=3600, failure_ttl=7 * 24 * 3600)


def run_retention(reschedule: bool = False) -> dict | None:
    """Expire VODs, sweep orphans, prune logins, expire data exports, purge erased accounts.
    Returns what was deleted ({"expired": n, kind: objects, "requeued": n, "logins": n,
    "exports": n, "erased": n, "erasure_held": n, "erasure_failed": n}), or None when another
    run holds the lock. With `reschedule`, runs again in an hour even if this run fails."""
    with app_context():
        redis = get_redis()
        name = current_app.config["RQ_QUEUE"]
        try:
            if not redis.set(RUNNING_KEY.format(name), "1", nx=True, ex=RUN_TIMEOUT):
                log.info("retention: another run is still working; skipping this one")
                return None
            try:
                expiry = expire_vods()
                sweep = sweep_orphans()
                logins = prune_unused(current_app)
                exports = expire_exports()
                erasure = erase_due()
                lifted = lift_expired()
                restored = restore_due()
                analytics = expire_analytics()
                safety = prune_safety_records()
            finally:
                redis.delete(RUNNING_KEY.format(name))
            summary = {"expired": len(expiry.deleted), "expire_failed": len(expiry.failed),
                       **sweep.counts, "sweep_failed": len(sweep.failed), "logins": logins,
                       "exports": exports, **erasure, "suspensions_ended": lifted,
                       "dmca_restored": restored, **analytics, **safety}
            log.info("retention: %s", ", ".join(f"{key} {value}" for key, value in summary.items()))
            return summary
        finally:
            if reschedule:
                _schedule(RETENTION_EVERY)


def start_retention() -> bool:
    """Start the run_retention chain unless one exists (needs an app context). True if started."""
    if not get_redis().set(CHAIN_KEY.format(current_app.config["RQ_QUEUE"]), "1", nx=True,
                           ex=RETENTION_EVERY * 3):
        return False
    _schedule(FIRST_RUN_AFTER)
    return True
