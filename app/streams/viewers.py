"""Concurrent viewers: each player sends a heartbeat; a viewer counts while it keeps beating."""
from __future__ import annotations

import time

from ..extensions import db, get_redis
from ..models import StreamSession

HEARTBEAT_SECONDS = 15
# Two missed heartbeats and a bit: a viewer who closed the tab stops counting within ~40 s.
WINDOW_SECONDS = 2 * HEARTBEAT_SECONDS + 10


def _key(channel_id: int) -> str:
    return f"cascade:viewers:{channel_id}"


def heartbeat(channel_id: int, viewer_id: str, session: StreamSession | None) -> int:
    """Record that `viewer_id` is watching; returns the current count and keeps the peak."""
    now = time.time()
    key = _key(channel_id)
    pipe = get_redis().pipeline()
    pipe.zadd(key, {viewer_id[:64]: now})
    pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
    pipe.zcard(key)
    pipe.expire(key, WINDOW_SECONDS)
    count = pipe.execute()[2]
    if session is not None and count > session.peak_viewers:
        session.peak_viewers = count
        db.session.commit()
    return count


def count(channel_id: int) -> int:
    now = time.time()
    return get_redis().zcount(_key(channel_id), now - WINDOW_SECONDS, "+inf")


def counts(channel_ids) -> dict[int, int]:
    """Current viewers of several channels in one Redis round trip (the directory's ordering)."""
    ids = list(channel_ids)
    if not ids:
        return {}
    now = time.time()
    pipe = get_redis().pipeline(transaction=False)
    for channel_id in ids:
        pipe.zcount(_key(channel_id), now - WINDOW_SECONDS, "+inf")
    return dict(zip(ids, pipe.execute()))
