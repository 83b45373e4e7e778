"""Chat against a real server: gunicorn's gevent worker, the Redis message queue, PostgreSQL, and
python-socketio clients carrying the session cookies a browser would get from /login.

Redis and PostgreSQL are reached through TCP relays the tests can cut, to show what a sender
sees while a service is down and that chat recovers by itself when it returns.
"""
from __future__ import annotations

import os
import re
import secrets
import sys
import time
import uuid

import psycopg
import pytest
import requests
import socketio
from redis import Redis
from redis.connection import parse_url
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests.conftest import TEST_REDIS_URL, base_config, fresh_postgresql, wait_for
from tests.e2e.conftest import free_ports, start, stop
from tests.factories import PASSWORD, make_user
from tests.tcpproxy import Proxy

pytestmark = pytest.mark.e2e


class Server:
    def __init__(self, base_url, database_url, redis_relay, db_relay, log):
        self.base_url = base_url
        self.database_url = database_url
        self.redis_relay = redis_relay
        self.db_relay = db_relay
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with fresh_postgresql("cascade_chat") as database_url:
        yield from run_server(tmp_path_factory, database_url)


def run_server(tmp_path_factory, database_url: str):
    with Redis.from_url(TEST_REDIS_URL) as redis:
        redis.flushdb()  # database 15 belongs to the tests: no counters left from an earlier run
    redis_params = parse_url(TEST_REDIS_URL)
    redis_relay = Proxy(("127.0.0.1", redis_params.get("port", 6379)))
    db_relay = Proxy(("127.0.0.1", make_url(database_url).port or 5432))
    relayed_db = make_url(database_url).set(port=db_relay.port).render_as_string(hide_password=False)
    relayed_redis = f"redis://127.0.0.1:{redis_relay.port}/{redis_params.get('db', 0)}"

    port = free_ports(1)[0]
    log = tmp_path_factory.mktemp("chat-server") / "gunicorn.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update({
        "DATABASE_URL": relayed_db,
        "REDIS_URL": relayed_redis,
        "RATELIMIT_KEY_PREFIX": f"chat-{uuid.uuid4().hex}",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "SECURE_COOKIES": "false",
        "PROXY_COUNT": "0",
        "CHAT_ANON_CONNECTS_PER_MINUTE": "3",
        "CHAT_CONNECT_EXEMPT": "",
        "PYTHONUNBUFFERED": "1",
    })
    process = start([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--bind",
                     f"127.0.0.1:{port}", "--graceful-timeout", "3", "wsgi:app"], log, env)
    base_url = f"http://127.0.0.1:{port}"
    running = Server(base_url, database_url, redis_relay, db_relay, log)

    def healthy():
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited\n{running.log_text()}")
        try:
            return requests.get(f"{base_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_for(healthy, 40, "the chat server to answer /healthz", running.log_text)
        yield running
    finally:
        stop(process)
        redis_relay.refuse()
        db_relay.refuse()


@pytest.fixture(scope="module")
def people(server):
    """The streamer and a viewer, made directly in the server's database."""
    app = create_app(base_config(server.database_url))
    with app.app_context():
        make_user("streamer")
        make_user("bob")
        make_user("carol")
        db.session.remove()
        db.engine.dispose()
    return ["streamer", "bob", "carol"]


def login_cookie(server, username: str) -> str:
    http = requests.Session()
    page = http.get(f"{server.base_url}/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = http.post(f"{server.base_url}/login", allow_redirects=False,
                         data={"login": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text[:500]
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


class Viewer:
    """A python-socketio client on /chat over WebSocket only, recording what it receives."""

    def __init__(self, server, username: str | None = None):
        self.events: list[tuple[str, dict]] = []
        self.client = socketio.Client(reconnection=False)
        for name in ("message", "delete", "clear", "notice", "error", "settings", "held"):
            self.client.on(name, self._recorder(name), namespace="/chat")
        headers = {"Cookie": login_cookie(server, username)} if username else {}
        self.client.connect(server.base_url, namespaces=["/chat"], transports=["websocket"],
                            headers=headers, wait_timeout=10)

    def _recorder(self, name):
        return lambda data=None: self.events.append((name, data))

    def call(self, event: str, data: dict) -> dict:
        return self.client.call(event, data, namespace="/chat", timeout=10)

    def received(self, name: str) -> list[dict]:
        return [data for kind, data in self.events if kind == name]

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def viewers(server, people):
    opened = []

    def open_viewer(username=None):
        viewer = Viewer(server, username)
        opened.append(viewer)
        return viewer
    yield open_viewer
    for viewer in opened:
        viewer.close()


def test_two_logged_in_clients_chat_over_websocket(server, viewers):
    bob, streamer, anon = viewers("bob"), viewers("streamer"), viewers()
    assert bob.client.transport() == "websocket"
    for viewer in (bob, streamer, anon):
        assert viewer.call("join", {"channel": "streamer"})["ok"]
    ack = bob.call("send", {"channel": "streamer", "text": f"hello <b>there</b> {time.time()}"})
    assert ack["ok"], ack
    for viewer in (bob, streamer, anon):
        wait_for(lambda v=viewer: v.received("message"), 5, "the message to arrive")
        messages = viewer.received("message")
        assert len(messages) == 1, messages
        [message] = messages
        assert message["id"] == ack["id"] and message["user"] == "bob"
        assert "&lt;b&gt;there&lt;/b&gt;" in message["html"]
    refused = anon.call("send", {"channel": "streamer", "text": "hi"})
    assert refused["code"] == "login_required"
    wait_for(lambda: anon.received("error"), 5, "the error event")


def test_reconnect_fetches_what_was_missed_without_gaps_or_duplicates(server, viewers):
    # The streamer sends: owners are exempt from the rate limit, which is tested below.
    bob, carol = viewers("streamer"), viewers("carol")
    bob.call("join", {"channel": "streamer"})
    carol.call("join", {"channel": "streamer"})
    last_seen = bob.call("send", {"channel": "streamer", "text": "before"})["id"]
    wait_for(lambda: carol.received("message"), 5, "the first message")
    carol.close()
    missed = [bob.call("send", {"channel": "streamer", "text": f"while away {n} {time.time()}"})["id"]
              for n in range(3)]
    carol_again = viewers("carol")
    state = carol_again.call("join", {"channel": "streamer", "after": last_seen})
    assert [m["id"] for m in state["messages"]] == missed
    live = bob.call("send", {"channel": "streamer", "text": "after coming back"})["id"]
    wait_for(lambda: carol_again.received("message"), 5, "the live message")
    assert [m["id"] for m in carol_again.received("message")] == [live]


def test_a_flood_gets_errors_with_the_wait_not_a_disconnect(server, viewers):
    carol = viewers("carol")
    acks = [carol.call("send", {"channel": "streamer", "text": f"flood {n}"}) for n in range(12)]
    refused = [a for a in acks if not a["ok"]]
    assert refused and all(a["code"] == "rate_limited" and a["retry_after"] > 0 for a in refused)
    wait_for(lambda: len(carol.received("error")) == len(refused), 5, "one error event per refusal")
    assert carol.client.connected
    assert carol.call("join", {"channel": "streamer"})["ok"]


def test_anonymous_connects_per_address_are_limited_with_a_wait(server, viewers):
    # CHAT_ANON_CONNECTS_PER_MINUTE=3 on this server. Seven connects go over it even if a new
    # minute starts halfway through (at most 3 + 3 fit in two windows).
    readers = [viewers() for _ in range(7)]
    joins = [reader.call("join", {"channel": "streamer"}) for reader in readers]
    limited = [j for j in joins if not j["ok"]]
    assert limited, joins
    assert all(j["code"] == "rate_limited" and j["retry_after"] > 0 for j in limited)
    assert all(reader.client.connected for reader in readers)
    # Logged-in viewers are not counted.
    assert viewers("bob").call("join", {"channel": "streamer"})["ok"]


@pytest.mark.parametrize("service", ["redis", "db"])
def test_an_outage_refuses_sends_visibly_and_chat_recovers(server, viewers, service):
    relay = server.redis_relay if service == "redis" else server.db_relay
    bob, streamer = viewers("bob"), viewers("streamer")
    bob.call("join", {"channel": "streamer"})
    streamer.call("join", {"channel": "streamer"})
    during = f"during the {service} outage {time.time()}"
    relay.refuse()
    try:
        refused = bob.call("send", {"channel": "streamer", "text": during})
        assert refused["ok"] is False and refused["code"] == "unavailable"
        assert "not sent" in refused["message"]
    finally:
        relay.restore()

    def delivered():
        ack = bob.call("send", {"channel": "streamer", "text": f"after the outage {time.time()}"})
        return ack if ack["ok"] else None
    ack = wait_for(delivered, 20, f"sends to work again after {service} returns")
    wait_for(lambda: any(m["id"] == ack["id"] for m in streamer.received("message")), 10,
             "the message to reach the other viewer")
    assert not any(m["text"] == during for m in streamer.received("message"))
    # Every acknowledged message is stored; the refused one is not.
    with psycopg.connect(make_url(server.database_url).set(drivername="postgresql")
                         .render_as_string(hide_password=False)) as conn:
        texts = [row[0] for row in conn.execute("SELECT text FROM chat_messages")]
    assert during not in texts and ack["id"]
