"""What the site depends on, checked in parallel within a short deadline: the one set of checks
behind /readyz and `flask doctor`.

Each check says what it found and, when something is wrong, what is wrong and how to fix it, in
words an operator can act on. Only the database and Redis are *required*: without them no page
serves, so readiness fails. The others degrade one feature (going live, VODs, uploads) while pages
still serve, so they only warn: a 503 would take the web out of a load balancer, which fixes none
of them and takes the pages down too.

No Flask request in here; the caller decides who sees the details (app.health.routes).
"""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit
from xml.etree import ElementTree

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout
from redis.retry import Retry

# The whole examination answers within DEADLINE even when a dependency swallows packets: each
# check runs on its own thread with its own client timeouts, and one still running at the
# deadline is reported as not answering (its thread is left to its client's timeout).
DEADLINE = 1.5
REDIS_TIMEOUT = 0.5
INGEST_TIMEOUT = 0.75
S3_CONNECT_TIMEOUT = 0.5
S3_READ_TIMEOUT = 0.75
DATABASE_STATEMENT_TIMEOUT_MS = 1000
STAT_MAX_BYTES = 8 * 1024 * 1024

MIGRATE = "run `flask --app app db upgrade` (`make migrate`; `make run` does it too), then restart the web and workers"
REDIS_FIX = "start Redis (`make run` starts one when nothing answers at REDIS_URL) or fix REDIS_URL"
AFTER_REDIS = "fix Redis first (see the redis check): live hosts and workers are found through it"


@dataclass(frozen=True)
class Finding:
    """What one check found. `summary` is the state when ok and what is wrong when not."""

    ok: bool
    summary: str
    fix: str | None = None
    detail: dict = field(default_factory=dict)


def good(summary: str, **detail) -> Finding:
    return Finding(True, summary, None, detail)


def bad(summary: str, fix: str, **detail) -> Finding:
    return Finding(False, summary, fix, detail)


@dataclass(frozen=True)
class Check:
    name: str
    required: bool
    finding: Finding

    @property
    def ok(self) -> bool:
        return self.finding.ok

    def as_dict(self, details: bool = True) -> dict:
        data = {"name": self.name, "ok": self.ok, "required": self.required}
        if not details:
            return data
        if self.ok:
            data["summary"] = self.finding.summary
        else:
            data["problem"] = self.finding.summary
            data["fix"] = self.finding.fix
        if self.finding.detail:
            data["detail"] = self.finding.detail
        return data


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    took: float       # seconds
    checked_at: float  # time.time()

    @property
    def ready(self) -> bool:
        """Every required check passes: the site can serve pages."""
        return all(check.ok for check in self.checks if check.required)

    @property
    def status(self) -> str:
        if all(check.ok for check in self.checks):
            return "ready"
        return "degraded" if self.ready else "unavailable"

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def as_dict(self, details: bool = True) -> dict:
        data = {"status": self.status, "ready": self.ready,
                "checks": [check.as_dict(details) for check in self.checks]}
        if details:
            data["took_ms"] = round(self.took * 1000, 1)
            data["checked_at"] = round(self.checked_at, 3)
        return data


# --- where things are, without credentials ----------------------------------------------------

def redis_where(url: str) -> str:
    """`host:port/db` of a Redis URL: never its user name, password or query."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    db = parts.path.strip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{db}"


def database_where(url) -> str:
    """`host:port/name` of a SQLAlchemy URL, or the SQLite file: never the password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    port = f":{url.port}" if url.port else ""
    return f"{url.host or 'localhost'}{port}/{url.database or ''}"


def endpoint_where(url: str | None) -> str:
    if not url:
        return "AWS S3"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def first_line(exc: BaseException | str, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit - 1] + "…"


def short_client(url: str) -> Redis:
    """A Redis client that gives up after REDIS_TIMEOUT and never retries: said here rather than
    left to redis-py's defaults, which differ between its constructors and versions (a retry
    would multiply the wait on a silent Redis)."""
    return Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                          retry=Retry(NoBackoff(), 0), health_check_interval=0)


def redis_problem(exc: RedisError, where: str) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a Redis error."""
    text = str(exc)
    if isinstance(exc, AuthenticationError) or (isinstance(exc, ResponseError)
                                                 and ("NOAUTH" in text or "WRONGPASS" in text)):
        return (f"Redis at {where} refuses our credentials",
                "put the right password in REDIS_URL (redis://:PASSWORD@host:port/db) or fix Redis' requirepass")
    if isinstance(exc, RedisTimeout):
        return (f"Redis at {where} did not answer within {REDIS_TIMEOUT:g} s",
                ("check that Redis is running and reachable from this box (a firewall that drops "
                 f"packets looks like this); {REDIS_FIX}"))
    if "refused" in text.lower():
        return f"Redis at {where} refuses connections", REDIS_FIX
    return f"Redis at {where} cannot be reached ({first_line(exc)})", REDIS_FIX


# --- database ---------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def migration_heads(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the heads, every revision) of the migrations in `directory`, read once per process."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", directory)
    script = ScriptDirectory.from_config(config)
    return (frozenset(script.get_heads()),
            frozenset(revision.revision for revision in script.walk_revisions()))


def database_problem(exc: Exception, engine, where: str) -> tuple[str, str]:
    orig = getattr(exc, "orig", None) or exc
    text = first_line(orig)
    if engine.dialect.name == "sqlite":
        return (f"the SQLite database {where} cannot be used ({text})",
                "check that the file's folder exists and this user may write to it, or fix DATABASE_URL")
    if "refused" in text.lower():
        problem = f"the database at {where} refuses connections"
    elif "timeout" in text.lower() or "canceling statement" in text.lower():
        problem = f"the database at {where} did not answer in time ({text})"
    else:
        problem = f"the database at {where} cannot be used ({text})"
    return problem, "start PostgreSQL or fix DATABASE_URL (user, password, host, port and database name)"


def check_database(engine, migrations: str | Path) -> Finding:
    """A query on a connection from the app's pool, then the schema's revision against the code's."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    where = database_where(engine.url)
    kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(engine.dialect.name, engine.dialect.name)
    started = time.monotonic()
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text(f"SET LOCAL statement_timeout = {DATABASE_STATEMENT_TIMEOUT_MS}"))
            connection.execute(text("SELECT 1"))
            took_ms = round((time.monotonic() - started) * 1000, 1)
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any failure of the database is the operator's to fix
        problem, fix = database_problem(exc, engine, where)
        return bad(problem, fix, backend=kind)
    heads, known = migration_heads(str(migrations))
    detail = {"backend": kind, "where": where, "query_ms": took_ms, "revision": sorted(current),
              "head": sorted(heads)}
    if current == heads:
        return good(f"{kind} at {where} answers in {took_ms:g} ms; schema at head ({', '.join(sorted(heads))})",
                    **detail)
    if not current:
        return bad(f"{kind} at {where} answers but has no schema: no migration was applied", MIGRATE, **detail)
    if current - known:
        return bad(f"the database schema is at {', '.join(sorted(current - known))}, a revision this code "
                   "does not know: newer code migrated it",
                   "deploy the code that matches the database (or downgrade it with that code's "
                   "`flask db downgrade`)", **detail)
    return bad(f"the database schema is at {', '.join(sorted(current))}, behind the code's "
               f"{', '.join(sorted(heads))}", MIGRATE, **detail)


# --- Redis ------------------------------------------------------------------------------------

def check_redis(client: Redis, url: str) -> Finding:
    where = redis_where(url)
    started = time.monotonic()
    try:
        client.ping()
    except RedisError as exc:
        return bad(*redis_problem(exc, where))
    took_ms = round((time.monotonic() - started) * 1000, 1)
    return good(f"Redis at {where} answers in {took_ms:g} ms", where=where, ping_ms=took_ms)


# --- ingest -----------------------------------------------------------------------------------

def _fetch(url: str) -> tuple[int, bytes]:
    """(status, body) of a GET that ignores proxy settings: these are the box's own servers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=INGEST_TIMEOUT) as response:
        return response.status, response.read(STAT_MAX_BYTES)


def _unreachable(exc: Exception, what: str, url: str, fix: str) -> Finding:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return bad(f"{what} at {url} did not answer within {INGEST_TIMEOUT:g} s", fix)
    if isinstance(reason, ConnectionRefusedError):
        return bad(f"{what} at {url} refuses connections: the ingest server is not running, so "
                   "nobody can go live (pages still serve)", fix)
    return bad(f"{what} at {url} cannot be reached ({first_line(reason)})", fix)


def check_ingest(config: Mapping) -> Finding:
    if (config.get("INGEST") or "nginx") == "srs":
        return check_srs(config["SRS_API_URL"])
    return check_nginx_rtmp(config["INGEST_STAT_URL"])


def check_nginx_rtmp(url: str) -> Finding:
    """nginx-rtmp's statistics (`rtmp_stat`, XML, on the loopback hook server) answer."""
    start_fix = "start nginx (`make run` starts it as `ingest`) or point INGEST_STAT_URL (HOOK_PORT) at it"
    render_fix = ("render nginx's config again (`flask --app app nginx render`; `make run` does) and "
                  "restart nginx, or fix INGEST_STAT_URL; with SRS as the ingest set INGEST=srs")
    try:
        status, body = _fetch(url)
    except urllib.error.HTTPError as exc:
        exc.close()
        return bad(f"{url} answers HTTP {exc.code}, not nginx-rtmp statistics", render_fix)
    except (OSError, ValueError) as exc:
        return _unreachable(exc, "nginx-rtmp's statistics", url, start_fix)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        root = None
    if root is None or root.tag != "rtmp":
        return bad(f"{url} answers HTTP {status}, but not with nginx-rtmp statistics", render_fix)
    streams = [stream for stream in root.iter("stream") if stream.find("publishing") is not None]
    clients = sum(len(stream.findall("client")) for stream in root.iter("stream"))
    version = root.findtext("nginx_version") or "?"
    uptime = int(root.findtext("uptime") or 0)
    return good(f"nginx {version} with RTMP answers at {url}: {len(streams)} stream(s) publishing, "
                f"up {_duration(uptime)}",
                where=url, nginx_version=version, uptime_s=uptime, publishing=len(streams), clients=clients)


def check_srs(api_url: str) -> Finding:
    url = api_url.rstrip("/") + "/api/v1/versions"
    fix = "start SRS (`./objs/srs -c media/srs.conf`, docs/install.md) or fix SRS_API_URL"
    try:
        _, body = _fetch(url)
    except urllib.error.HTTPError as exc:
        exc.close()
        return bad(f"SRS's API at {url} answers HTTP {exc.code}", fix)
    except (OSError, ValueError) as exc:
        return _unreachable(exc, "SRS's API", url, fix)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("code") != 0:
        return bad(f"{url} answers, but not with SRS's API", fix)
    version = (answer.get("data") or {}).get("version", "?")
    return good(f"SRS {version} answers at {url}", where=url, srs_version=version)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# --- live hosts -------------------------------------------------------------------------------

def check_live_hosts(client: Redis, keys) -> Finding:
    """The live hosts whose heartbeat has not expired, and what capacity they have left."""
    from ..live import hosts as registry

    try:
        found = registry.live_hosts(client, keys)
    except RedisError as exc:
        return bad(f"the live hosts are unknown: {redis_problem(exc, 'REDIS_URL')[0]}", AFTER_REDIS)
    if not found:
        return bad(f"no live host has sent a heartbeat in the last {registry.HEARTBEAT_TTL:g} s: pages "
                   "serve, but streams cannot go live (they wait for a host)",
                   "start one: `python -m workers.live` (`make run` starts one; more hosts: docs/live.md)",
                   hosts=[])
    now = time.time()
    capacity = round(sum(host.capacity_cores for host in found), 2)
    free = round(sum(host.free_cores for host in found), 2)
    hw = sum(host.hw_sessions for host in found)
    free_hw = sum(host.free_hw for host in found)
    sessions = sum(len(host.sessions) for host in found)
    summary = (f"{len(found)} live host(s): {free:.2f} of {capacity:.2f} cores free, "
               f"{sessions} session(s)")
    if hw:
        summary += f", {free_hw} of {hw} hardware encoder sessions free"
    if free <= 0 and free_hw <= 0:
        summary += "; full: new streams get source passthrough until capacity frees"
    if not all(host.calibrated for host in found):
        summary += "; still measuring encoding cost"
    return good(summary, capacity_cores=capacity, free_cores=free, hw_sessions=hw, free_hw_sessions=free_hw,
                sessions=sessions,
                hosts=[{"id": host.id, "encoder": host.encoder, "capacity_cores": host.capacity_cores,
                        "free_cores": round(host.free_cores, 3), "load_cores": host.load_cores,
                        "hw_sessions": host.hw_sessions, "free_hw_sessions": host.free_hw,
                        "sessions": len(host.sessions), "calibrated": host.calibrated,
                        "heartbeat_age_s": round(max(0.0, now - host.heartbeat_at), 1)}
                       for host in found])


# --- storage ----------------------------------------------------------------------------------

def check_storage(config: Mapping) -> Finding:
    backend = config.get("STORAGE_BACKEND", "local")
    if backend == "local":
        from ..storage.backends import LocalStorage, get_storage

        return check_local_storage(cast(LocalStorage, get_storage(config)).root)
    if backend == "s3":
        return check_s3(config)
    return bad(f"STORAGE_BACKEND {backend!r} is not supported", "set STORAGE_BACKEND to local or s3")


def check_local_storage(root: Path) -> Finding:
    """The objects directory exists and this user can create a file in it."""
    import os
    import shutil
    import tempfile

    init = "run `flask --app app storage init` (`make storage`; `make run` does it too) or fix STORAGE_ROOT"
    if not root.exists():
        return bad(f"the storage directory {root} does not exist", init, where=str(root))
    if not root.is_dir():
        return bad(f"the storage path {root} is not a directory", init, where=str(root))
    try:
        handle, probe = tempfile.mkstemp(prefix=".health-", dir=root)
        try:
            os.write(handle, b"ok\n")
        finally:
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        user = _user()
        return bad(f"cannot write to the storage directory {root} ({exc.strerror or first_line(exc)})",
                   f"give {user} write access (`chown -R {user} {root}`) or free disk space", where=str(root))
    free_gb = round(shutil.disk_usage(root).free / 1e9, 1)
    return good(f"local directory {root} is writable ({free_gb:g} GB free)", backend="local",
                where=str(root), free_gb=free_gb)


def _user() -> str:
    import os
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


_s3_probes: dict[tuple, object] = {}


def _s3_probe_client(config: Mapping):
    """A boto3 client for one quick HEAD: short timeouts, a single attempt (the storage's own
    client retries five times with a 60 s read timeout). Made once per process and settings."""
    settings = (config.get("S3_ENDPOINT_URL"), config.get("S3_REGION"), config.get("AWS_ACCESS_KEY_ID"),
                config.get("AWS_SECRET_ACCESS_KEY"))
    client = _s3_probes.get(settings)
    if client is None:
        import boto3
        from botocore.config import Config as BotoConfig

        client = _s3_probes[settings] = boto3.client(
            "s3", endpoint_url=settings[0] or None, region_name=settings[1] or "us-east-1",
            aws_access_key_id=settings[2] or None, aws_secret_access_key=settings[3] or None,
            config=BotoConfig(s3={"addressing_style": "path"}, signature_version="s3v4",
                              retries={"total_max_attempts": 1}, connect_timeout=S3_CONNECT_TIMEOUT,
                              read_timeout=S3_READ_TIMEOUT))
    return client


def check_s3(config: Mapping) -> Finding:
    """The bucket answers a HEAD with the app's credentials."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    bucket = config.get("S3_BUCKET") or ""
    where = endpoint_where(config.get("S3_ENDPOINT_URL"))
    if not bucket:
        return bad("S3_BUCKET is empty", "name the bucket to store objects in (S3_BUCKET)")
    endpoint_fix = "start the store (MinIO) or fix S3_ENDPOINT_URL (docs/storage.md)"
    try:
        _s3_probe_client(config).head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchBucket", "NotFound"}:
            return bad(f"the bucket {bucket!r} does not exist at {where}",
                       "run `flask --app app storage init` (`make storage`; `make run` does it too) or fix S3_BUCKET",
                       backend="s3", where=where, bucket=bucket)
        if code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            return bad(f"{where} refuses our credentials for the bucket {bucket!r} ({code})",
                       "fix AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the key's policy on the bucket",
                       backend="s3", where=where, bucket=bucket)
        return bad(f"{where} answers {code or 'an error'} for the bucket {bucket!r}", endpoint_fix,
                   backend="s3", where=where, bucket=bucket)
    except (ConnectTimeoutError, ReadTimeoutError):
        return bad(f"the object store at {where} did not answer within "
                   f"{S3_CONNECT_TIMEOUT + S3_READ_TIMEOUT:g} s", endpoint_fix, backend="s3", where=where)
    except EndpointConnectionError:
        return bad(f"nothing answers at {where} (the object store)", endpoint_fix, backend="s3", where=where)
    except NoCredentialsError:
        return bad("no S3 credentials are set", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                   backend="s3", where=where)
    except (BotoCoreError, ValueError) as exc:
        return bad(f"the object store at {where} cannot be used ({type(exc).__name__})", endpoint_fix,
                   backend="s3", where=where)
    return good(f"bucket {bucket!r} answers at {where}", backend="s3", where=where, bucket=bucket)


# --- workers ----------------------------------------------------------------------------------

def check_workers(client: Redis, queue_name: str) -> Finding:
    """RQ workers registered for the app's queue (a worker's key expires when it stops heartbeating)."""
    from rq import Queue, Worker

    try:
        queue = Queue(queue_name, connection=client)
        workers = Worker.all(queue=queue)
        waiting = queue.count
        failed = queue.failed_job_registry.count
    except RedisError as exc:
        return bad(f"the workers are unknown: {redis_problem(exc, 'REDIS_URL')[0]}", AFTER_REDIS)
    if not workers:
        return bad(f"no RQ worker listens on the queue {queue_name!r}: recordings are not made into "
                   f"VODs, and retention and notifications wait ({waiting} job(s) waiting)",
                   "start one: `python -m workers` (`make run` starts one)",
                   queue=queue_name, workers=0, waiting=waiting, failed=failed)
    states = Counter(str(getattr(worker.get_state(), "value", worker.get_state())) for worker in workers)
    described = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return good(f"{len(workers)} RQ worker(s) on the queue {queue_name!r} ({described}); "
                f"{waiting} job(s) waiting, {failed} failed",
                queue=queue_name, workers=len(workers), states=dict(states), waiting=waiting, failed=failed)


# --- running them -----------------------------------------------------------------------------

SILENT_FIX = {
    "database": "check that the database is running and reachable (DATABASE_URL); a firewall that "
                "drops packets looks like this",
    "redis": REDIS_FIX,
    "ingest": "check that nginx (or SRS) is running and not overloaded",
    "live_hosts": AFTER_REDIS,
    "storage": "check the disk (a hung NFS mount?) or the object store (S3_ENDPOINT_URL)",
    "workers": AFTER_REDIS,
}


def run_in_parallel(probes: list[tuple[str, bool, Callable[[], Finding]]], deadline: float) -> list[Check]:
    """Run every probe on its own daemon thread; one still running at `deadline` counts as failed.
    Daemon threads, not an executor: a check stuck in a network call must not hold up the
    process's exit (`flask doctor`), and under gevent they are greenlets."""
    found: dict[str, Finding] = {}

    def run(name: str, probe: Callable[[], Finding]) -> None:
        try:
            found[name] = probe()
        except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed check, not a 500
            found[name] = bad(f"the {name} check itself failed ({type(exc).__name__}: {first_line(exc)})",
                              "run `flask --app app doctor` on the box and read the logs")

    threads = [threading.Thread(target=run, args=(name, probe), daemon=True, name=f"health-{name}")
               for name, _, probe in probes]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return [Check(name, required,
                  found.get(name) or bad(f"the {name.replace('_', ' ')} check did not finish within "
                                         f"{deadline:g} s", SILENT_FIX.get(name, "")))
            for name, required, _ in probes]


def scrub(value, secrets: list[str]):
    """`value` with every secret replaced by ***: the messages above never quote a URL with its
    password, but a library's error text might quote anything."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, secrets) for item in value]
    return value


def secrets_of(config: Mapping, engine=None) -> list[str]:
    """The configured secrets long enough to scrub without mangling ordinary words."""
    found = [config.get(name) for name in ("SECRET_KEY", "HOOK_SECRET", "AWS_SECRET_ACCESS_KEY")]
    for url in (config.get("REDIS_URL"), config.get("RATELIMIT_STORAGE_URI")):
        found.append(urlsplit(url).password if url and "://" in url else None)
    if engine is not None:
        found.append(engine.url.password)
    return sorted({str(secret) for secret in found if secret and len(str(secret)) >= 8}, key=len, reverse=True)


def examine(app, deadline: float = DEADLINE) -> Report:
    """Every check, in parallel, within `deadline` seconds. Call inside an app context."""
    from ..extensions import db
    from ..live.state import LiveKeys

    config = app.config
    engine = db.engine
    migrations = app.extensions["migrate"].directory
    started, checked_at = time.monotonic(), time.time()
    client = short_client(config["REDIS_URL"])
    try:
        checks = run_in_parallel([
            ("database", True, lambda: check_database(engine, migrations)),
            ("redis", True, lambda: check_redis(client, config["REDIS_URL"])),
            ("ingest", False, lambda: check_ingest(config)),
            ("live_hosts", False, lambda: check_live_hosts(client, LiveKeys(config))),
            ("storage", False, lambda: check_storage(config)),
            ("workers", False, lambda: check_workers(client, config["RQ_QUEUE"])),
        ], deadline)
    finally:
        client.close()
    redis_ok = next(check.ok for check in checks if check.name == "redis")
    secrets = secrets_of(config, engine)
    tidy = []
    for check in checks:
        finding = check.finding
        if not redis_ok and check.name in {"live_hosts", "workers"} and not finding.ok:
            finding = bad("unknown while Redis does not answer", AFTER_REDIS)
        tidy.append(Check(check.name, check.required,
                          Finding(finding.ok, scrub(finding.summary, secrets), scrub(finding.fix, secrets),
                                  scrub(finding.detail, secrets))))
    return Report(tidy, time.monotonic() - started, checked_at)
