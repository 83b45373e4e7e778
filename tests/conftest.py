"""Fixtures: the app on a fresh PostgreSQL database (and on SQLite where the database matters),
with real Redis."""
from __future__ import annotations

import contextlib
import contextvars
import html
import os
import re
import shutil
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db, get_redis, limiter
from tests.factories import PASSWORD

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://cascade:cascade@127.0.0.1:5432/postgres")
# The tests own this Redis database and flush it between tests. Under pytest-xdist each worker
# gets its own, counting down from it (gw0: 15, gw1: 14, ...); database 11 belongs to the live
# runtime tests (tests/live/conftest.py), whose keys sit under a prefix per test.
LIVE_TESTS_REDIS_DB = 11


def worker_redis_url(url: str, worker: str) -> str:
    """`url` with its database moved down by the xdist worker's number ("gw2": 2; "": none)."""
    if not worker:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    if database < 0 or database == LIVE_TESTS_REDIS_DB:
        raise pytest.UsageError(f"too many xdist workers for {url}: worker {worker} would flush Redis "
                                f"database {database}")
    return urlunsplit(parts._replace(path=f"/{database}"))


TEST_REDIS_URL = worker_redis_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
                                  os.environ.get("PYTEST_XDIST_WORKER", ""))
os.environ["TEST_REDIS_URL"] = TEST_REDIS_URL  # for the stacks the tests start
BACKENDS = ["sqlite", "postgresql"]
# Database-backed tests run on this backend; those marked `both_databases` (behaviour that differs
# between the databases: search, migrations, constraints, dialect branches, dates) run on both, and
# `--all-databases` runs every one on both.
DEFAULT_BACKEND = "postgresql"


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_STORAGE_URI": TEST_REDIS_URL,
        "RATELIMIT_KEY_PREFIX": "cascade-test-limits",
        "SOCKETIO_USE_QUEUE": False,
        "SOCKETIO_ASYNC_MODE": "threading",
        "HOOK_SECRET": "test-hook-secret",
        "PROXY_COUNT": 0,
        # Nothing listens on the discard port: no test reads the statistics of an nginx that
        # happens to run on this box (tests that need them serve their own).
        "INGEST_STAT_URL": "http://127.0.0.1:9/stat",
        # The suite's channel owner is called "streamer", a staff word on a real site (tests of
        # the name rules use the real list: tests/auth/test_names.py).
        "STAFF_WORDS": "admin,administrator,staff,moderator,mod,system,support",
    }


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """Argon2id at a test-sized cost: tests need its behaviour, not its deliberate slowness."""
    from argon2 import PasswordHasher

    from app.auth import services

    production = services._hasher
    services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    services._hasher = production


@pytest.fixture(autouse=True, scope="session")
def compile_once(tmp_path_factory):
    """Templates and URL rules compiled once per run, not once per app.

    The suite builds an app for nearly every test, and compiling its templates (Jinja) and the
    URL builders of its ~90 rules (Werkzeug) took about 60% of a quick test's time. Jinja's own
    bytecode cache keeps each compiled template, keyed by its source; a rule's builder depends
    only on the rule, its defaults and whether unknown arguments go to the query string, so one
    compiled for an earlier app with the same rule serves every later one. The app's behaviour
    is unchanged: the same code, compiled fewer times. Likewise a rule's parse (the regex parts
    its matcher is built from) depends only on its text and the map's converter classes: each
    app replays it, making its own converter objects, instead of parsing every rule again.
    """
    from flask import Flask
    from jinja2 import FileSystemBytecodeCache
    from werkzeug.routing import Rule

    bytecode = FileSystemBytecodeCache(str(tmp_path_factory.mktemp("jinja-bytecode")))
    jinja_options = Flask.jinja_options
    Flask.jinja_options = {**jinja_options, "bytecode_cache": bytecode}

    compile_builder = Rule._compile_builder
    builders: dict = {}

    def compiled_once(rule: Rule, append_unknown: bool = True):
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())),
               tuple(sorted((name, type(converter)) for name, converter in rule._converters.items())),
               append_unknown)
        if key not in builders:
            builders[key] = compile_builder(rule, append_unknown)
        return builders[key]

    parse_rule = Rule._parse_rule
    parses: dict = {}

    def parsed_once(rule: Rule, text: str):
        key = (text, tuple(sorted(rule.map.converters.items())))
        if key not in parses:
            calls: list = []
            make_converter = rule.get_converter

            def recorded(*call):
                calls.append(call)
                return make_converter(*call)

            rule.get_converter = recorded  # type: ignore[method-assign]
            start = len(rule._trace)
            try:
                parses[key] = (list(parse_rule(rule, text)), rule._trace[start:], calls)
            finally:
                del rule.get_converter
            return parses[key][0]
        parts, trace, calls = parses[key]
        rule._trace.extend(trace)
        for variable, *call in calls:
            rule._converters[variable] = rule.get_converter(variable, *call)
            rule.arguments.add(variable)
        return parts

    Rule._compile_builder = compiled_once  # type: ignore[method-assign]
    Rule._parse_rule = parsed_once  # type: ignore[method-assign]
    yield
    Rule._compile_builder = compile_builder  # type: ignore[method-assign]
    Rule._parse_rule = parse_rule  # type: ignore[method-assign]
    Flask.jinja_options = jinja_options


@pytest.fixture(autouse=True, scope="session")
def one_engine_per_database():
    """Apps on the same database share one SQLAlchemy engine for the whole run.

    SQLAlchemy caches each statement's compiled SQL per engine (its dialect is part of the key),
    so with an app and an engine per test every query was compiled again in every test: 17% of a
    quick test's time. Its pool is kept too: the next test checks out a connection the last one
    returned (rolled back; pool_pre_ping drops one the server closed) instead of opening two new
    ones, about 7 ms a test. Engines with other options (URL included) are their own."""
    from flask_sqlalchemy import SQLAlchemy

    make_engine = SQLAlchemy._make_engine
    engines: dict = {}

    def shared(self, bind_key, options, app):
        key = (bind_key, make_url(options["url"]).render_as_string(hide_password=False),
               repr(sorted((name, value) for name, value in options.items() if name != "url")))
        if key not in engines:
            engines[key] = make_engine(self, bind_key, options, app)
        return engines[key]

    SQLAlchemy._make_engine = shared  # type: ignore[method-assign]
    yield
    SQLAlchemy._make_engine = make_engine  # type: ignore[method-assign]
    for engine in engines.values():
        engine.dispose()


@contextlib.contextmanager
def fresh_postgresql(prefix: str = "cascade_test", *, wait_for_disk: bool = True):
    """A new, migrated PostgreSQL database on the test server (its SQLAlchemy URL), dropped after.

    `wait_for_disk=False`: its commits return before their WAL reaches the disk (synchronous_commit
    off, for this database only). Nothing is lost unless the server crashes, and then only the test
    run's own rows. A quick test commits about 7 times; each waits ~0.15 ms less here."""
    admin = make_url(TEST_DATABASE_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        if not wait_for_disk:
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    try:
        migrate_database(url)
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgresql_url():
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end. The quick tests'
    database: no stack runs on it, and no test of it restarts or kills the server."""
    with fresh_postgresql(wait_for_disk=False) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'cascade.db'}"
    migrate_database(url)
    return url


def migrate_database(url: str) -> None:
    """Build the schema with the real migrations, as `make run` does."""
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def empty_database() -> None:
    """Delete every row, children first: on PostgreSQL in one round trip (TRUNCATE of the same
    tables costs about 45 ms against 1 ms here; DELETE of near-empty tables is cheap)."""
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("; ".join(f'DELETE FROM "{table.name}"' for table in tables))
        else:
            for table in tables:
                conn.execute(table.delete())


def pytest_addoption(parser):
    parser.addoption("--all-databases", action="store_true",
                     help="run every database-backed test on SQLite and PostgreSQL, not only the "
                          "ones marked both_databases")


# Tests that start whole stacks (nginx, gunicorn, workers, ffmpeg in real time): `make test` runs
# them after the rest, two modules at once, and then the faults and `alone` ones by themselves.
STACK_MARKERS = ("e2e", "faults")


def starts_stacks(item) -> bool:
    return any(item.get_closest_marker(name) for name in STACK_MARKERS)


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures, a module's stack among them
def pytest_runtest_setup(item):
    """Under xdist, a test that starts no stack runs at a lower CPU priority (nice 10), and the
    processes it starts with it, so the stack tests' real-time encoders and their time limits
    (a /healthz answered within 0.2 s, a stream that never restarts) get the cores they would
    have on a box of their own; the rest uses what they leave. Root can lower the niceness
    again for the next stack test; anyone else keeps the priority they have."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, 0 if starts_stacks(item) else 10)


# How long each stack module takes alone, in seconds (--durations=0, 2026-12-06). Only the order
# the modules start in depends on it: the longest first, so that two lanes of stack tests end
# close together. A module missing here starts after these.
STACK_MODULE_SECONDS = {
    "tests/browser/test_shaka.py": 200, "tests/faults/test_faults.py": 200,
    "tests/e2e/test_vod_stack.py": 160, "tests/faults/test_storage.py": 85,
    "tests/workers/test_live_host.py": 70, "tests/e2e/test_hls_after_end.py": 60,
    "tests/e2e/test_live_runtime.py": 60, "tests/e2e/test_live_redis_outage.py": 40,
    "tests/e2e/test_storage_nginx.py": 35, "tests/e2e/test_dashboard_live.py": 30,
    "tests/faults/test_database_restart.py": 30, "tests/e2e/test_chat_browser.py": 25,
    "tests/e2e/test_keepalive.py": 25, "tests/e2e/test_live.py": 20,
}


def stack_seconds(item) -> int:
    return STACK_MODULE_SECONDS.get(item.nodeid.split("::", 1)[0], 1) if starts_stacks(item) else 0


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config, items):
    """Group the tests for xdist: each module stays on one worker (its module-scoped servers,
    stacks and databases start once). Stack tests come first, the longest modules first (with
    --no-loadscope-reorder xdist keeps that order; see `make test`)."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=lambda item: (not starts_stacks(item), -stack_seconds(item)))  # stable within


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc):
    """Give each test that uses `database_url` its backends: both for `both_databases` tests (or
    with --all-databases), else DEFAULT_BACKEND. A test that parametrizes `database_url` itself,
    or a module that overrides the fixture, keeps its own choice."""
    if "database_url" not in metafunc.fixturenames:
        return
    definitions = metafunc._arg2fixturedefs.get("database_url") or ()
    if not definitions or getattr(definitions[-1].func, "__module__", None) != __name__:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "database_url" in names:
            return
    both = metafunc.definition.get_closest_marker("both_databases") is not None
    both = both or metafunc.config.getoption("all_databases")
    metafunc.parametrize("database_url", BACKENDS if both else [DEFAULT_BACKEND], indirect=True)


@pytest.fixture
def database_url(request):
    """The SQLAlchemy URL of this test's backend (see pytest_generate_tests)."""
    return request.getfixturevalue(f"{request.param}_url")


def forget_socketio_clients(apps: list) -> None:
    """Flask-SocketIO's test clients register in a class-wide dict that nothing ever empties: each
    kept its app (routes, templates, engine) for the rest of the run, and a worker ended with 260
    dead apps in a heap of 1.3 million objects that every full garbage collection walked."""
    from flask_socketio.test_client import SocketIOTestClient

    for sid, client in list(SocketIOTestClient.clients.items()):
        if client.app in apps:
            del SocketIOTestClient.clients[sid]


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database; extra config as keyword arguments."""
    made = []

    def factory(**overrides):
        app = create_app({**base_config(database_url), **overrides})
        app.test_client_class = IsolatedClient
        made.append(app)
        return app

    yield factory
    forget_socketio_clients(made)
    for app in made:
        with app.app_context():
            db.session.remove()
    if made:
        # Every app of a test shares its database and the tests' Redis database: empty them once.
        # Rate-limit counters, queued jobs and live state live in Redis (database 15 unless
        # TEST_REDIS_URL says otherwise), which belongs to the tests: start each test afresh.
        with made[0].app_context():
            empty_database()
        with Redis.from_url(TEST_REDIS_URL) as redis:
            redis.flushdb()
    for app in made:
        with app.app_context():
            limiter.reset()
            if client := app.extensions.get("cascade_redis"):
                client.close()
            if optional := app.extensions.get("cascade_optional_redis"):
                optional.client.close()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


class IsolatedClient(FlaskClient):
    """A test client whose requests never share the test's app context.

    Flask reuses an active app context for requests, which would let `g` (and the
    logged-in user cached on it) leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API on loopback for the whole run (MinIO if available, else moto's server)."""
    from tests.s3server import running_s3

    with running_s3() as server:
        yield server


@pytest.fixture
def proxied_s3(s3_server):
    """The test S3 server through a proxy that can make it unreachable: (server, proxy)."""
    from tests.s3server import behind_proxy

    with behind_proxy(s3_server) as found:
        yield found


@pytest.fixture
def s3_bucket(s3_server):
    """A new, empty bucket on the test S3 server; emptied and deleted after the test."""
    from app.storage.backends import S3Storage

    name = s3_server.new_bucket_name()
    storage = S3Storage(name, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                        secret_key=s3_server.secret_key)
    storage.ensure_bucket()
    yield name
    storage.delete_keys(obj.key for obj in storage.list())  # nothing may outlive the test
    storage.client.delete_bucket(Bucket=name)


@pytest.fixture
def s3_config(s3_server, s3_bucket):
    """App config keyword arguments that put this test's objects in its own bucket."""
    return s3_server.config(s3_bucket)


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright, one per run (per xdist worker): each test opens
    contexts of its own, which share nothing (cookies, storage, cache) with another's."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def wait_for(predicate, timeout: float, what: str, detail=lambda: ""):
    """Poll `predicate` until it returns something truthy (and return that), or fail saying what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} {detail()}".rstrip())


def page_text(response) -> str:
    """A response body with HTML entities decoded, for comparing with messages."""
    return html.unescape(response.get_data(as_text=True))


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class Actions:
    """Signs up, logs in and posts forms the way a browser does, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def post(self, path: str, data: dict | None = None, *, token_from: str | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf(token_from or path))
        return self.client.post(path, data=data, **kwargs)

    def signup(self, username="alice", email=None, password="correct horse battery", birth_date="1990-04-01"):
        return self.post("/signup", {
            "username": username, "email": email or f"{username.lower()}@example.com",
            "password": password, "confirm": password, "birth_date": birth_date,
        })

    def login(self, login="alice", password="correct horse battery", remember=False):
        data = {"login": login, "password": password}
        if remember:
            data["remember"] = "y"
        return self.post("/login", data)

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def actions(client):
    return Actions(client)


@pytest.fixture
def login(app):
    """A new logged-in test client per call (each one a separate browser)."""
    def factory(username: str):
        client = app.test_client()
        assert Actions(client).login(username, PASSWORD).status_code == 303
        return client
    return factory


@pytest.fixture
def ingest_stat(app):
    """nginx-rtmp's statistics page, as this test sets it (tests/fakestat.py), at INGEST_STAT_URL."""
    from tests.fakestat import StatServer

    server = StatServer()
    app.config["INGEST_STAT_URL"] = server.url
    yield server
    server.close()


@pytest.fixture
def ingest_control(app):
    """nginx-rtmp's control API on HOOK_PORT, as a server that records each path it is asked
    (Stop and key rotation really ask it to drop the publisher)."""
    from tests.httpd import Quiet, Served

    asked: list[str] = []

    class ControlAPI(Quiet):
        def do_GET(self):  # http.server's name
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    served = Served(ControlAPI)
    app.config["HOOK_PORT"] = served.port
    yield asked
    served.close()


# --- mail: a real SMTP server on loopback, and RQ jobs run by a real worker ------------------------

@pytest.fixture
def smtp():
    """(host, port, Mailbox) of an SMTP server on loopback for this test."""
    from tests.mailserver import running_smtp

    with running_smtp() as server:
        yield server


@pytest.fixture
def mailbox(smtp):
    return smtp[2]


def mail_config(smtp) -> dict:
    """Settings that send this app's mail to `smtp`, from jobs on a queue of its own."""
    host, port, _ = smtp
    return {"RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}", "MAIL_SERVER": host, "MAIL_PORT": port,
            "MAIL_DEFAULT_SENDER": "Cascade Live <noreply@live.test>"}


def run_jobs(app) -> list:
    """Run every queued job with a real RQ worker, as `rq worker` would; their jobs."""
    from rq import Queue, SimpleWorker

    queue = Queue(app.config["RQ_QUEUE"], connection=get_redis())
    jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
    SimpleWorker([queue], connection=get_redis()).work(burst=True)
    for job in jobs:
        job.refresh()
        assert job.is_finished, job.latest_result().exc_string if job.latest_result() else job.get_status()
    db.session.expire_all()
    return jobs
