"""Flask extensions, created without an app so models, workers and tests can import them."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

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
limiter = Limiter(key_func=get_remote_address)
socketio = SocketIO()


def get_redis():
    """The app's Redis client, made once per app (health checks, live state, job queue)."""
    from flask import current_app
    from redis import Redis

    client = current_app.extensions.get("cascade_redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=2,
                                socket_connect_timeout=2)
        current_app.extensions["cascade_redis"] = client
    return client


def socketio_channel(config) -> str:
    """The Redis pub/sub channel of the Socket.IO message queue.

    Pub/sub ignores Redis database numbers, so two sites sharing one Redis (or the test suite
    beside a running site) would hear each other's chat unless the channel names the database.
    """
    from redis.connection import parse_url

    if config.get("SOCKETIO_CHANNEL"):
        return config["SOCKETIO_CHANNEL"]
    return f"cascade-socketio-{parse_url(config['REDIS_URL']).get('db', 0)}"
