"""`python -m workers`: wait for Redis, then run an RQ worker for short jobs (VODs, retention,
notifications) with the app context pushed. Live sessions run on live hosts (`python -m workers.live`)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

from workers.context import get_app
from workers.lifetime import die_with_parent


def _redacted(url: str) -> str:
    """The Redis URL without its password, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def wait_for_redis(url: str, timeout: float) -> Redis:
    """Return a client once Redis answers PING; exit with a clear message after `timeout` seconds."""
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            client.ping()
            return client
        except RedisError as exc:
            if time.monotonic() >= deadline:
                sys.exit(f"workers: Redis at {_redacted(url)} did not answer within {timeout:.0f} s "
                         f"({exc}). Start Redis or set REDIS_URL.")
            if not announced:
                print(f"workers: waiting up to {timeout:.0f} s for Redis at {_redacted(url)}...",
                      file=sys.stderr, flush=True)
                announced = True
            time.sleep(0.5)


# How often the worker checks that its scheduler runs (and restarts it). RQ's default, 10 minutes,
# left scheduled jobs (session endings, VODs) waiting that long after a Redis blip killed the
# scheduler process; the check is a few Redis commands. An idle worker looks only when its
# blocking wait for a job ends, after its TTL less 15 s: hence the TTL.
MAINTENANCE_SECONDS = 15


class AppWorker(Worker):
    """An RQ worker whose forked work horses open their own database connections."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        kwargs.setdefault("worker_ttl", MAINTENANCE_SECONDS + 15)
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        # The analytics chain runs every 30 s: if its job was killed, start it again here (it
        # lapses two minutes after its last run) rather than at the next worker start.
        super().run_maintenance_tasks()
        from workers.analytics import start_rollups

        try:
            start_rollups()
        except RedisError as exc:
            print(f"workers: could not restart the analytics job ({exc})", file=sys.stderr, flush=True)

    def main_work_horse(self, job, queue):
        # Pooled connections inherited through fork() are shared with the parent; a horse
        # that reused them would corrupt the parent's sessions (SQLAlchemy's pooling docs).
        from app.extensions import db

        for engine in db.engines.values():
            engine.dispose(close=False)
        super().main_work_horse(job, queue)


def start_retention_chain() -> None:
    """Make sure the hourly run_retention job and the analytics rollup chain exist (one chain
    each per Redis)."""
    from workers.analytics import start_rollups
    from workers.retention import start_retention

    try:
        start_retention()
        start_rollups()
    except RedisError as exc:
        print(f"workers: could not start the retention and analytics jobs ({exc})", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for Redis to answer (default 30)")
    args = parser.parse_args(argv)

    app = get_app()
    connection = wait_for_redis(app.config["REDIS_URL"], args.wait)
    # The scheduler and each work horse are forks: they go when this process goes (a killed
    # worker is restarted by supervisord, and its abandoned job retried by the new one).
    os.register_at_fork(after_in_child=die_with_parent)
    with app.app_context():
        from app.jobs import queue_name

        queue = Queue(queue_name(), connection=connection)
        start_retention_chain()
        worker = AppWorker([queue], connection=connection)
        worker.work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
