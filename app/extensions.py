"""Flask extensions, created without an app so models, workers and tests can import them."""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from engineio import json as engineio_json
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from socketio import RedisManager
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

# Named constraints make Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# The base of every model. Flask-SQLAlchemy builds db.Model at run time; a type checker cannot
# take an attribute as a base class, so it is told the declarative Base db.Model is built from.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite in WAL mode with normal syncing: readers never wait for the writer, and a commit
    no longer fsyncs (5-200 ms), which under gevent blocked every chat socket of the process."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()


def address_key() -> str:
    """The client's address as rate limits count it: an HMAC under SECRET_KEY, so the limits'
    counters in Redis never hold an address."""
    address = (get_remote_address() or "").encode()
    return "addr:" + hmac.new(current_app.config["SECRET_KEY"].encode(), address, hashlib.sha256).hexdigest()[:24]


limiter = Limiter(key_func=address_key)
socketio = SocketIO()


def get_redis() -> Redis:
    """The app's Redis client, made once per app (health checks, live state, job queue)."""
    from redis import Redis

    client = current_app.extensions.get("cascade_redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=2,
                                socket_connect_timeout=2)
        current_app.extensions["cascade_redis"] = client
    return client


T = TypeVar("T")


class OptionalRedis:
    """Redis for what a request can do without: viewer counts, the directory's ordering snapshot,
    encoder stats, the live hosts. `ask(question, otherwise, what)` gives `question(redis)`, or
    `otherwise` when Redis is away, so pages render without those numbers instead of failing.

    Its client waits REDIS_QUICK_TIMEOUT at most and never retries, and once a question failed
    requests skip Redis for RETRY_SECONDS, answering `otherwise` at once, while one of them at a
    time tries again. So a Redis that refuses connections, or accepts them and never answers,
    costs a page at most one short wait, not a timeout per question. Nothing sticks: the first
    answer ends the outage. One warning when an outage starts and one line when it ends.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, url: str, timeout: float) -> None:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                     retry=Retry(NoBackoff(), 0))
        self._lock = threading.Lock()
        self._away_since: float | None = None  # time.monotonic() of the first failure
        self._next_try = 0.0

    def ask(self, question: Callable[[Redis], T], otherwise: T, what: str) -> T:
        from redis.exceptions import RedisError

        with self._lock:
            if self._away_since is not None:
                now = time.monotonic()
                if now < self._next_try:
                    return otherwise
                self._next_try = now + self.RETRY_SECONDS  # this request tries; the rest wait for it
        try:
            answer = question(self.client)
        except RedisError as error:
            self._failed(error, what)
            return otherwise
        if self._away_since is not None:
            self._answered()
        return answer

    def _failed(self, error: Exception, what: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._next_try = now + self.RETRY_SECONDS
            if self._away_since is not None:
                return
            self._away_since = now
        log.warning("Redis is away (%s: %s, asked for %s): pages go on without what it holds and "
                    "ask again every %.0f s", type(error).__name__, error, what, self.RETRY_SECONDS)

    def _answered(self) -> None:
        with self._lock:
            if self._away_since is None:
                return
            seconds, self._away_since = time.monotonic() - self._away_since, None
        log.info("Redis is back after %.1f s", seconds)


def optional_redis() -> OptionalRedis:
    """The app's OptionalRedis, made once per app."""

    found = current_app.extensions.get("cascade_optional_redis")
    if found is None:
        found = current_app.extensions.setdefault("cascade_optional_redis", OptionalRedis(
            current_app.config["REDIS_URL"], current_app.config["REDIS_QUICK_TIMEOUT"]))
    return found


def socketio_channel(config) -> str:
    """The Redis pub/sub channel of the Socket.IO message queue.

    Pub/sub ignores Redis database numbers, so two sites sharing one Redis (or the test suite
    beside a running site) would hear each other's chat unless the channel names the database.
    """
    from redis.connection import parse_url

    if config.get("SOCKETIO_CHANNEL"):
        return config["SOCKETIO_CHANNEL"]
    return f"cascade-socketio-{parse_url(config['REDIS_URL']).get('db', 0)}"


class QuickPublishManager(RedisManager):
    """The Socket.IO queue on Redis, publishing through an OptionalRedis of its own.

    python-socketio publishes on a client with no timeout, so on a Redis that accepts
    connections and never answers, an emit from a request or a chat handler hung it for good.
    Here an emit waits PUBLISH_TIMEOUT at most (well above a publish's usual millisecond, so a
    busy box does not drop chat), and while Redis is away emits are dropped at once with one
    warning per outage: nothing could deliver them anyway. The listener keeps the manager's own
    connection, which blocks on purpose: a read timeout there would resubscribe every few
    seconds and lose what was published meanwhile.
    """

    PUBLISH_TIMEOUT = 2.0

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel)
        self.publisher = OptionalRedis(url, self.PUBLISH_TIMEOUT)

    def _publish(self, data) -> None:
        payload = engineio_json.dumps(data)  # what the listener decodes with
        self.publisher.ask(lambda redis: redis.publish(self.channel, payload), None, "a Socket.IO emit")


def socketio_queue(url: str, channel: str) -> RedisManager:
    """The Socket.IO message queue for REDIS_URL `url`: QuickPublishManager, or python-socketio's
    own manager for URLs it knows and redis-py's from_url does not (Sentinel's)."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return RedisManager(url, channel=channel)
    return QuickPublishManager(url, channel)
