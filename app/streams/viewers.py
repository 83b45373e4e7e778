"""Concurrent viewers: each player sends a heartbeat; a viewer counts while it keeps beating.

The counts live in Redis and nothing else needs them, so while Redis is away they are unknown
(None) rather than an error: pages leave the number out, heartbeats are not counted.
"""
from __future__ import annotations

import time

from ..extensions import db, optional_redis
from ..models import StreamSession

HEARTBEAT_SECONDS = 15
# Two missed heartbeats and a bit: a viewer who closed the tab stops counting within ~40 s.
WINDOW_SECONDS = 2 * HEARTBEAT_SECONDS + 10


def _key(channel_id: int) -> str:
    return f"cascade:viewers:{channel_id}"


def heartbeat(channel_id: int, viewer_id: str, session: StreamSession | None) -> int | None:
    """Record that `viewer_id` is watching; returns the current count (None while Redis is away,
    when the beat is not counted) and keeps the peak."""
    now = time.time()
    key = _key(channel_id)

    def beat(redis):
        pipe = redis.pipeline()
        pipe.zadd(key, {viewer_id[:64]: now})
        pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
        pipe.zcard(key)
        pipe.expire(key, WINDOW_SECONDS)
        return pipe.execute()[2]

    count = optional_redis().ask(beat, otherwise=None, what="a viewer heartbeat")
    if session is not None and count is not None and count > session.peak_viewers:
        session.peak_viewers = count
        db.session.commit()
    return count


def count(channel_id: int) -> int | None:
    """How many are watching the channel; None while Redis is away."""
    now = time.time()
    return optional_redis().ask(lambda redis: redis.zcount(_key(channel_id), now - WINDOW_SECONDS, "+inf"),
                                otherwise=None, what="a viewer count")


def counts(channel_ids) -> dict[int, int]:
    """Current viewers of several channels in one Redis round trip (the directory's ordering);
    empty while Redis is away, so every count is unknown."""
    ids = list(channel_ids)
    if not ids:
        return {}
    now = time.time()

    def ask(redis):
        pipe = redis.pipeline(transaction=False)
        for channel_id in ids:
            pipe.zcount(_key(channel_id), now - WINDOW_SECONDS, "+inf")
        return dict(zip(ids, pipe.execute()))

    return optional_redis().ask(ask, otherwise={}, what="viewer counts")
