"""/readyz and `flask doctor`: each check against the real database and Redis, and each failing as
the dependency does (refused, silent, misconfigured), always within the deadline."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import create_engine, text

from app import create_app
from app.config import ROOT
from app.extensions import db
from app.health import checks, routes
from app.health.cli import marks
from app.live import hosts
from app.live.state import LiveKeys
from tests.conftest import TEST_REDIS_URL, Actions, base_config
from tests.factories import PASSWORD, make_user
from tests.httpd import Quiet, Served
from tests.ports import free_port
from tests.tcpproxy import Proxy

# The database check differs by dialect (a SQLite file; PostgreSQL's statement timeout).
pytestmark = pytest.mark.both_databases

MIGRATIONS = str(ROOT / "migrations")
REDIS = urlsplit(TEST_REDIS_URL)
OUTSIDER = "203.0.113.9"  # a documentation address: a visitor from outside the box

STAT_XML = b"""<?xml version="1.0" encoding="utf-8" ?>
<rtmp>
<nginx_version>1.22.1</nginx_version>
<nginx_rtmp_version>1.1.4</nginx_rtmp_version>
<pid>4242</pid>
<uptime>7300</uptime>
<naccepted>3</naccepted>
<server>
<application>
<name>live</name>
<live>
<stream>
<name>st-0123456789abcdef</name>
<time>5000</time>
<client><id>1</id><address>127.0.0.1</address><publishing/><active/></client>
<client><id>2</id><address>127.0.0.1</address><active/></client>
<publishing/>
<active/>
</stream>
<stream>
<name>st-fedcba9876543210</name>
<client><id>3</id><address>127.0.0.1</address></client>
</stream>
<nclients>3</nclients>
</live>
</application>
</server>
</rtmp>
"""


# --- small servers ------------------------------------------------------------------------------

class TinyServer:
    """An HTTP server on loopback that answers every GET with one fixed response."""

    def __init__(self, body: bytes, status: int = 200, content_type: str = "text/xml"):
        class Handler(Quiet):
            def do_GET(self):  # http.server's name
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.served = Served(Handler)

    def url(self, path: str = "/stat") -> str:
        return self.served.url(path)

    def close(self) -> None:
        self.served.close()


@pytest.fixture
def serve():
    made = []

    def factory(body: bytes, status: int = 200, content_type: str = "text/xml") -> TinyServer:
        made.append(TinyServer(body, status, content_type))
        return made[-1]

    yield factory
    for server in made:
        server.close()


@pytest.fixture
def closed_url():
    """An http:// URL on a loopback port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}/stat"


@pytest.fixture
def silent_url():
    """An http:// URL whose server takes connections (the kernel does) but never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/stat"
    listener.close()


@pytest.fixture
def proxy():
    """A TCP proxy to the test Redis that can refuse or go silent."""
    made = Proxy((REDIS.hostname or "127.0.0.1", REDIS.port or 6379))
    yield made
    made.refuse()


def proxied(proxy: Proxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}{REDIS.path or '/0'}"


@pytest.fixture
def redis():
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def health_app(make_app, tmp_path, closed_url):
    """An app whose ingest, storage and queue belong to this test (nothing of the box's own)."""
    def factory(**overrides):
        objects = tmp_path / "objects"
        objects.mkdir(exist_ok=True)
        config = {"INGEST_STAT_URL": closed_url, "STORAGE_BACKEND": "local", "STORAGE_ROOT": str(objects),
                  "MEDIA_ROOT": str(tmp_path / "media"), "RQ_QUEUE": f"health-{uuid.uuid4().hex[:8]}",
                  **overrides}
        return make_app(**config)
    return factory


def readyz(app, address: str = "127.0.0.1", **kwargs):
    started = time.monotonic()
    response = app.test_client().get("/readyz", environ_base={"REMOTE_ADDR": address}, **kwargs)
    return response, time.monotonic() - started


def by_name(body: dict) -> dict:
    return {check["name"]: check for check in body["checks"]}


def a_live_host(app, host_id: str = "box-1", **fields) -> hosts.HostInfo:
    fields = {"hostname": "box", "pid": 1, "cpu_count": 8, "capacity_cores": 4.0, "hw_sessions": 0,
              "encoder": "libx264", "reserved_cores": 1.5, "calibrated": True, **fields}
    info = hosts.HostInfo(id=host_id, **fields)
    with Redis.from_url(app.config["REDIS_URL"]) as client:
        hosts.publish(client, LiveKeys(app.config), info)
    return info


def a_worker(app) -> Worker:
    with Redis.from_url(TEST_REDIS_URL) as client:
        worker = Worker([Queue(app.config["RQ_QUEUE"], connection=client)], connection=client,
                        name=f"health-{uuid.uuid4().hex[:8]}")
        worker.register_birth()
    return worker


# --- /readyz --------------------------------------------------------------------------------------

def test_readyz_is_ready_when_every_dependency_answers(health_app, serve):
    app = health_app(INGEST_STAT_URL=serve(STAT_XML).url())
    with app.app_context():
        a_live_host(app)
        a_worker(app)
    response, took = readyz(app)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["ready"] is True
    assert response.headers["Cache-Control"] == "no-store"
    checks_ = by_name(body)
    assert list(checks_) == ["database", "redis", "ingest", "live_hosts", "storage", "workers"]
    assert all(check["ok"] for check in checks_.values()), body
    assert [name for name, check in checks_.items() if check["required"]] == ["database", "redis"]
    assert "schema at head" in checks_["database"]["summary"]
    assert checks_["ingest"]["detail"]["publishing"] == 1
    assert checks_["live_hosts"]["detail"]["free_cores"] == 2.5
    assert checks_["workers"]["detail"]["workers"] == 1
    assert took < 2


def test_readyz_is_degraded_not_down_when_only_optional_checks_fail(health_app, tmp_path):
    app = health_app(STORAGE_ROOT=str(tmp_path / "missing"))
    response, _ = readyz(app)
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "degraded" and body["ready"] is True
    found = by_name(body)
    assert found["database"]["ok"] and found["redis"]["ok"]
    for name in ("ingest", "live_hosts", "storage", "workers"):
        assert found[name]["ok"] is False and not found[name]["required"]
        assert found[name]["problem"] and found[name]["fix"], found[name]
    assert "refuses connections" in found["ingest"]["problem"]
    assert "workers.live" in found["live_hosts"]["fix"]
    assert "does not exist" in found["storage"]["problem"] and "storage init" in found["storage"]["fix"]
    assert "python -m workers" in found["workers"]["fix"]


@pytest.mark.outage
@pytest.mark.parametrize("cut", ["refuse", "go_silent"])
def test_readyz_503_within_the_deadline_when_redis_is_cut_off(health_app, proxy, cut, silent_url):
    app = health_app(REDIS_URL=proxied(proxy), INGEST_STAT_URL=silent_url)
    assert readyz(app)[0].get_json()["checks"][1]["ok"]  # through the proxy, before the cut
    app.extensions.pop("cascade_readiness")
    getattr(proxy, cut)()
    response, took = readyz(app)
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "unavailable" and body["ready"] is False
    found = by_name(body)
    assert found["database"]["ok"]
    redis_check = found["redis"]
    assert not redis_check["ok"] and "REDIS_URL" in redis_check["fix"]
    expected = "refuses connections" if cut == "refuse" else "did not answer within"
    assert expected in redis_check["problem"] and f"127.0.0.1:{proxy.port}" in redis_check["problem"]
    for name in ("live_hosts", "workers"):
        assert not found[name]["ok"] and "Redis" in found[name]["problem"]
    assert not found["ingest"]["ok"] and "did not answer" in found["ingest"]["problem"]
    assert took < 2, f"/readyz took {took:.2f} s"


@pytest.fixture
def app_without_database(closed_url):
    """An app whose PostgreSQL refuses connections (make_app would try to empty it afterwards)."""
    port = urlsplit(closed_url).port
    url = f"postgresql+psycopg://cascade:Db-Pa55word-xyz@127.0.0.1:{port}/cascade"
    app = create_app({**base_config(url), "INGEST_STAT_URL": closed_url})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_readyz_503_when_the_database_refuses_and_never_shows_its_password(app_without_database):
    response, took = readyz(app_without_database)
    text_ = response.get_data(as_text=True)
    found = by_name(response.get_json())
    assert response.status_code == 503 and took < 2
    assert not found["database"]["ok"] and "refuses connections" in found["database"]["problem"]
    assert "DATABASE_URL" in found["database"]["fix"] and found["redis"]["ok"]
    assert "Db-Pa55word-xyz" not in text_
    # A visitor from outside with a login cookie is not looked up while the database is down.
    client = app_without_database.test_client()
    client.set_cookie("session", "not-a-real-session")
    public = client.get("/readyz", environ_base={"REMOTE_ADDR": OUTSIDER})
    assert public.status_code == 503 and set(by_name(public.get_json())["database"]) == {"name", "ok", "required"}


def test_readyz_never_reveals_secrets(health_app, closed_url):
    port = urlsplit(closed_url).port
    app = health_app(REDIS_URL=f"redis://:Redis-Pa55word-xyz@127.0.0.1:{port}/13", HOOK_SECRET="hook-secret-abcdef",
                     AWS_SECRET_ACCESS_KEY="aws-secret-abcdef")
    response, _ = readyz(app)
    text_ = response.get_data(as_text=True)
    assert response.status_code == 503
    for secret in ("Redis-Pa55word-xyz", "hook-secret-abcdef", "aws-secret-abcdef", app.config["SECRET_KEY"]):
        assert secret not in text_
    assert f"Redis at 127.0.0.1:{port}/13 refuses connections" in by_name(response.get_json())["redis"]["problem"]


def test_scrub_replaces_secrets_wherever_they_hide():
    assert checks.scrub({"a": ["x sekret-value y"], "b": 1}, ["sekret-value"]) == {"a": ["x *** y"], "b": 1}
    assert checks.secrets_of({"SECRET_KEY": "k" * 20, "HOOK_SECRET": "short",
                              "REDIS_URL": "redis://:longer-password@h:1/0"}) == ["k" * 20, "longer-password"]


def test_visitors_from_outside_get_no_internal_details(health_app, tmp_path):
    app = health_app(STORAGE_ROOT=str(tmp_path / "missing"))
    response, _ = readyz(app, OUTSIDER)
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert all(set(check) == {"name", "ok", "required"} for check in body["checks"])
    text_ = response.get_data(as_text=True)
    assert str(tmp_path) not in text_ and "127.0.0.1" not in text_ and "fix" not in text_
    assert "flask doctor" in body["details"]


def test_a_forged_forwarded_for_does_not_unlock_details(health_app):
    app = health_app(PROXY_COUNT=1)  # behind our nginx, which appends the real client address
    response, _ = readyz(app, "127.0.0.1", headers={"X-Forwarded-For": f"127.0.0.1, {OUTSIDER}"})
    assert "problem" not in json.dumps(response.get_json())
    response, _ = readyz(app, "127.0.0.1", headers={"X-Forwarded-For": "127.0.0.1"})
    assert "problem" in json.dumps(response.get_json())


@pytest.mark.parametrize("admin, details", [(True, True), (False, False)])
def test_site_admins_get_details_from_anywhere(health_app, admin, details):
    app = health_app()
    with app.app_context():
        make_user("root_admin" if admin else "viewer", admin=admin)
    client = app.test_client()
    assert Actions(client).login("root_admin" if admin else "viewer", PASSWORD).status_code == 303
    body = client.get("/readyz", environ_base={"REMOTE_ADDR": OUTSIDER}).get_json()
    assert ("fix" in by_name(body)["ingest"]) is details


def test_readyz_reuses_a_fresh_report(health_app, proxy, monkeypatch):
    app = health_app(REDIS_URL=proxied(proxy))
    monkeypatch.setattr(routes, "CACHE_SECONDS", 60.0)
    first, _ = readyz(app)
    proxy.refuse()
    again, _ = readyz(app)
    assert first.status_code == again.status_code == 200
    assert first.get_json()["checked_at"] == again.get_json()["checked_at"]
    monkeypatch.setattr(routes, "CACHE_SECONDS", 0.0)
    assert readyz(app)[0].status_code == 503


# --- the checks one by one ----------------------------------------------------------------------

def test_database_check_on_the_migrated_database(app):
    found = checks.check_database(db.engine, MIGRATIONS)
    assert found.ok and "schema at head" in found.summary, found
    heads, _ = checks.migration_heads(MIGRATIONS)
    assert found.detail["revision"] == sorted(heads)


def sqlite_engine(path, revision: str | None = None):
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS things (id INTEGER)"))
        if revision:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version VALUES (:revision)"), {"revision": revision})
    return engine


@pytest.mark.parametrize("revision, expected, fix", [
    (None, "has no schema", "db upgrade"),
    ("a9372cf18860", "behind the code's", "db upgrade"),
    ("0123456789ab", "does not know", "downgrade"),
])
def test_database_check_finds_a_schema_not_at_head(tmp_path, revision, expected, fix):
    engine = sqlite_engine(tmp_path / "old.db", revision)
    try:
        found = checks.check_database(engine, MIGRATIONS)
    finally:
        engine.dispose()
    assert not found.ok and expected in found.summary and fix in found.fix, found


def test_database_check_when_sqlite_cannot_open_its_file(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    found = checks.check_database(engine, MIGRATIONS)
    engine.dispose()
    assert not found.ok and "cannot be used" in found.summary and "DATABASE_URL" in found.fix


def test_redis_check(redis):
    client = checks.short_client(TEST_REDIS_URL)
    try:
        found = checks.check_redis(client, TEST_REDIS_URL)
    finally:
        client.close()
    assert found.ok and "answers in" in found.summary


def test_ingest_check_reads_nginx_rtmp_statistics(serve):
    found = checks.check_nginx_rtmp(serve(STAT_XML).url())
    assert found.ok, found
    assert found.detail == {"where": found.detail["where"], "nginx_version": "1.22.1", "uptime_s": 7300,
                            "publishing": 1, "clients": 3}
    assert "1 stream(s) publishing, up 2 h" in found.summary


@pytest.mark.parametrize("body, status, expected", [
    (b"<html>not found</html>", 404, "answers HTTP 404"),
    (b"<html><body>welcome to nginx</body></html>", 200, "not with nginx-rtmp statistics"),
    (b"not xml at all", 200, "not with nginx-rtmp statistics"),
])
def test_ingest_check_refuses_what_is_not_nginx_rtmp(serve, body, status, expected):
    found = checks.check_nginx_rtmp(serve(body, status, "text/html").url())
    assert not found.ok and expected in found.summary and "nginx render" in found.fix


def test_ingest_check_when_nothing_listens(closed_url):
    found = checks.check_nginx_rtmp(closed_url)
    assert not found.ok and "refuses connections" in found.summary and "start nginx" in found.fix


@pytest.mark.outage
def test_ingest_check_gives_up_on_a_silent_server(silent_url):
    started = time.monotonic()
    found = checks.check_nginx_rtmp(silent_url)
    assert not found.ok and "did not answer within" in found.summary
    assert time.monotonic() - started < checks.DEADLINE


def test_ingest_check_asks_srs_when_srs_is_the_ingest(serve, closed_url):
    api = serve(b'{"code": 0, "server": "vid-1", "data": {"version": "6.0.134"}}', content_type="application/json")
    found = checks.check_ingest({"INGEST": "srs", "SRS_API_URL": api.url(""), "INGEST_STAT_URL": closed_url})
    assert found.ok and "SRS 6.0.134" in found.summary
    down = checks.check_ingest({"INGEST": "srs", "SRS_API_URL": closed_url.rsplit("/", 1)[0]})
    assert not down.ok and "SRS_API_URL" in down.fix


def test_live_hosts_check_counts_fresh_heartbeats_and_free_capacity(app, redis):
    keys = LiveKeys(app.config)
    empty = checks.check_live_hosts(redis, keys)
    assert not empty.ok and "no live host" in empty.summary
    redis.zadd(keys.hosts, {"gone-box": time.time() - 60})  # listed, but its heartbeat expired
    assert not checks.check_live_hosts(redis, keys).ok
    a_live_host(app, "box-1")
    a_live_host(app, "box-2")
    found = checks.check_live_hosts(redis, keys)
    assert found.ok and found.detail["capacity_cores"] == 8.0 and found.detail["free_cores"] == 5.0
    assert sorted(host["id"] for host in found.detail["hosts"]) == ["box-1", "box-2"]
    assert "2 live host(s): 5.00 of 8.00 cores free" in found.summary


def test_live_hosts_check_says_when_the_hosts_are_full(app, redis):
    a_live_host(app, reserved_cores=4.0)
    found = checks.check_live_hosts(redis, LiveKeys(app.config))
    assert found.ok and "full" in found.summary


def test_workers_check_finds_the_workers_of_the_apps_queue(app, redis):
    queue = f"health-{uuid.uuid4().hex[:8]}"
    assert not checks.check_workers(redis, queue).ok
    app.config["RQ_QUEUE"] = queue
    worker = a_worker(app)
    found = checks.check_workers(redis, queue)
    assert found.ok and found.detail["workers"] == 1, found
    assert not checks.check_workers(redis, f"{queue}-other").ok  # another site's queue
    worker.register_death()
    assert not checks.check_workers(redis, queue).ok


def test_local_storage_check(tmp_path):
    found = checks.check_local_storage(tmp_path)
    assert found.ok and "is writable" in found.summary
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    missing = checks.check_local_storage(tmp_path / "missing")
    assert not missing.ok and "does not exist" in missing.summary
    (tmp_path / "file").write_text("x")
    assert "not a directory" in checks.check_local_storage(tmp_path / "file").summary


def test_storage_check_of_an_unknown_backend():
    found = checks.check_storage({"STORAGE_BACKEND": "ftp"})
    assert not found.ok and "STORAGE_BACKEND" in found.fix


def test_s3_storage_check(s3_config, closed_url):
    assert checks.check_storage(s3_config).ok
    missing = checks.check_storage({**s3_config, "S3_BUCKET": f"{s3_config['S3_BUCKET']}-missing"})
    assert not missing.ok and "does not exist" in missing.summary and "storage init" in missing.fix
    down = checks.check_storage({**s3_config, "S3_ENDPOINT_URL": closed_url.rsplit("/", 1)[0]})
    assert not down.ok and "S3_ENDPOINT_URL" in down.fix
    assert s3_config["AWS_SECRET_ACCESS_KEY"] not in json.dumps(down.detail) + down.summary


def test_a_check_that_breaks_or_hangs_is_a_failed_check():
    def broken():
        raise RuntimeError("boom")

    release = threading.Event()

    def hanging():
        release.wait(10)
        return checks.good("late")

    started = time.monotonic()
    found = checks.run_in_parallel([("database", True, broken), ("ingest", False, hanging)], deadline=0.3)
    release.set()
    assert time.monotonic() - started < 1
    assert [check.ok for check in found] == [False, False]
    assert "boom" in found[0].finding.summary and "did not finish within 0.3 s" in found[1].finding.summary


# --- flask doctor ---------------------------------------------------------------------------------

def test_doctor_prints_a_table_and_passes_on_the_required_checks(health_app):
    result = health_app().test_cli_runner().invoke(args=["doctor"])
    passed, failed = marks()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"{passed} database") and "required" in line for line in lines)
    assert any(line.startswith(f"{passed} redis") for line in lines)
    assert any(line.startswith(f"{failed} ingest") and "optional" in line for line in lines)
    assert "fix: start nginx" in result.output
    assert lines[-1].startswith("Ready, degraded")


def test_doctor_exits_1_when_a_required_check_fails(health_app, closed_url):
    port = urlsplit(closed_url).port
    result = health_app(REDIS_URL=f"redis://127.0.0.1:{port}/13").test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1, result.output
    assert f"{marks()[1]} redis" in result.output and "REDIS_URL" in result.output
    assert result.output.splitlines()[-1] == "Not ready: redis failed, so /readyz answers 503."


def test_doctor_json_is_the_detailed_readyz_answer(health_app):
    result = health_app().test_cli_runner().invoke(args=["doctor", "--json"])
    body = json.loads(result.output)
    assert result.exit_code == 0 and body["ready"] is True
    assert [check["name"] for check in body["checks"]] == ["database", "redis", "ingest", "live_hosts",
                                                           "storage", "workers"]
    assert by_name(body)["ingest"]["fix"]
