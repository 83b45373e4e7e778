"""Concurrent viewers: each player sends a heartbeat; a viewer counts while it keeps beating and
is playing, starting or rebuffering (a paused or closed player leaves the count at once).

A beat counts only with the viewer token its page was given (`viewer_token`), only from a
browser (not curl or a crawler), and at most VIEWERS_PER_ADDRESS players per address and
channel: a script cannot inflate a channel from one machine. The address is never stored: it
enters an HMAC whose key (a random salt per day) lives only in Redis, for two days at most.

The counts live in Redis and nothing else needs them, so while Redis is away they are unknown
(None) rather than an error: pages leave the number out, heartbeats are not counted.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..extensions import db, optional_redis
from ..models import StreamSession

HEARTBEAT_SECONDS = 10
# Two missed heartbeats and a bit: a viewer who closed the tab stops counting within 25 s.
WINDOW_SECONDS = 2 * HEARTBEAT_SECONDS + 5
COUNTED_STATES = ("playing", "starting", "rebuffering")
LEAVING_STATES = ("paused", "ended")
STATES = COUNTED_STATES + LEAVING_STATES
TOKEN_SECONDS = 12 * 3600  # a page left open longer is reloaded before it counts again
SALT_SECONDS = 2 * 86400
# Programs that fetch pages but are nobody watching (a headless browser is someone's player).
NOT_A_VIEWER = re.compile(r"curl|wget|python|httpx|go-http-client|java/|libwww|okhttp|bot\b|bot/|spider|"
                          r"crawl|slurp|facebookexternalhit|preview", re.IGNORECASE)
_TOKEN = "viewer-token"


def _key(channel_id: int) -> str:
    return f"cascade:viewers:{channel_id}"


def _address_key(channel_id: int, address: str) -> str:
    return f"cascade:viewers:{channel_id}:address:{address}"


def viewer_token(channel_id: int) -> str:
    """What a channel's page gives its player, to be sent with each heartbeat."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN).dumps(channel_id)


def vod_viewer_token(vod_id: int) -> str:
    """What a VOD's page gives its player, to be sent with each heartbeat."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN).dumps(["vod", vod_id])


def _token(token: str):
    try:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN).loads(
            token, max_age=TOKEN_SECONDS)
    except BadSignature:  # SignatureExpired is one
        return None


def token_is_for(token: str, channel_id: int) -> bool:
    return _token(token) == channel_id


def token_is_for_vod(token: str, vod_id: int) -> bool:
    return _token(token) == ["vod", vod_id]


def is_browser(user_agent: str) -> bool:
    return bool(user_agent) and NOT_A_VIEWER.search(user_agent) is None


def _salt(redis) -> bytes:
    """Today's random salt, made by the first beat of the day (one round trip); gone two days later."""
    key = f"cascade:viewers:salt:{datetime.now(UTC):%Y%m%d}"
    pipe = redis.pipeline()
    pipe.set(key, secrets.token_hex(32), nx=True, ex=SALT_SECONDS)
    pipe.get(key)
    salt = pipe.execute()[1] or b""
    return salt.encode() if isinstance(salt, str) else salt


def address_key(channel_id: int, address: str, user_agent: str) -> str | None:
    """A daily pseudonym of (channel, address, browser): an HMAC under today's salt, which lives
    only in Redis. None while Redis is away."""
    def make(redis) -> str:
        message = f"{channel_id}|{address}|{user_agent}".encode()
        return hmac.new(_salt(redis), message, hashlib.sha256).hexdigest()[:16]

    return optional_redis().ask(make, otherwise=None, what="a viewer's address key")


def heartbeat(channel_id: int, viewer_id: str, session: StreamSession | None, *, state: str = "playing",
              address: str | None = None) -> int | None:
    """Record what `viewer_id`'s player is doing; returns the current count (None while Redis is
    away, when the beat is not counted) and keeps the peak. A beat from `address` (a key from
    `address_key`) past its VIEWERS_PER_ADDRESS players is not counted."""
    now = time.time()
    key = _key(channel_id)
    viewer_id = viewer_id[:64]
    cap = int(current_app.config["VIEWERS_PER_ADDRESS"])

    def beat(redis):
        # Two round trips at most: the address's players (when it has a cap to check), then the count.
        counted = state in COUNTED_STATES
        players = _address_key(channel_id, address) if counted and address is not None else None
        if players is not None:
            check = redis.pipeline()
            check.zremrangebyscore(players, 0, now - WINDOW_SECONDS)
            check.zscore(players, viewer_id)
            check.zcard(players)
            _, known, playing = check.execute()
            counted = known is not None or playing < cap
        pipe = redis.pipeline()
        if counted and players is not None:
            pipe.zadd(players, {viewer_id: now})
            pipe.expire(players, WINDOW_SECONDS)
        if counted:
            pipe.zadd(key, {viewer_id: now})
        else:
            pipe.zrem(key, viewer_id)
        pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
        pipe.zcard(key)
        pipe.expire(key, WINDOW_SECONDS)
        return pipe.execute()[-2]

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
