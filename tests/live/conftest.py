"""A live host's heartbeat and sessions in every state, shared by the CLI and admin page tests."""
from __future__ import annotations

import uuid

import pytest
from redis import Redis

from app.extensions import db, get_redis
from app.live import hosts
from app.live.hosts import HostInfo, HostSession
from app.live.state import LiveKeys
from app.models import utcnow
from tests.conftest import LIVE_TESTS_REDIS_DB
from tests.factories import make_live, make_user

# The lease and registry tests use a database of their own, with keys under a site per test.
LIVE_REDIS_URL = f"redis://127.0.0.1:6379/{LIVE_TESTS_REDIS_DB}"


def redis_client(url: str = LIVE_REDIS_URL) -> Redis:
    """A client made like the app's (app.extensions.get_redis)."""
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@pytest.fixture
def redis():
    made = redis_client()
    yield made
    made.close()


@pytest.fixture
def keys(redis, request):
    """Keys of a site of this test's own, deleted after it (nothing else in the database)."""
    keys = LiveKeys({"RQ_QUEUE": f"test-{request.module.__name__.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:8]}"})
    yield keys
    for key in redis.scan_iter(match=f"{keys.prefix}*"):
        redis.delete(key)


@pytest.fixture
def live_state(app):
    """Two hosts (one carrying a session, one idle) and sessions: placed and playable, waiting for
    a host, reconnecting, and one ended that nobody should list."""
    keys = LiveKeys(app.config)
    placed = make_live(make_user("placed"))
    placed.mode, placed.host, placed.playable_at = "ladder", "box-a", utcnow()
    placed.renditions = ["720p", "480p", "360p"]
    waiting = make_live(make_user("waiting"))
    away = make_live(make_user("away"))
    away.status, away.mode, away.host = "reconnecting", "passthrough", "box-a"
    away.renditions = [{"name": "source", "playlist": "source/index.m3u8"}]  # the old worker's shape
    over = make_live(make_user("over"))
    over.status, over.ended_at = "ended", utcnow()
    db.session.commit()
    busy = HostInfo(id="box-a", hostname="a", pid=11, cpu_count=8, capacity_cores=6.8, hw_sessions=3,
                    encoder="nvenc", reserved_cores=1.25, reserved_hw=2, load_cores=0.93,
                    sessions=[HostSession(placed.id, placed.internal_name, "placed", "ladder",
                                          ["720p", "480p", "360p"], 0.05, "running")])
    idle = HostInfo(id="box-b", hostname="b", pid=12, cpu_count=4, capacity_cores=3.4, hw_sessions=0,
                    encoder="libx264")
    for info in (busy, idle):
        hosts.publish(get_redis(), keys, info)
    return {"placed": placed, "waiting": waiting, "away": away, "over": over}
