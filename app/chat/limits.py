"""Chat pacing kept in Redis: per-user token buckets, slow mode, anonymous connects, recent texts,
and the nonces that make a retried send idempotent."""
from __future__ import annotations

import functools
import json
import math
import re
import time

from redis import Redis

PREFIX = "cascade:chat"
# A send may carry a nonce (the browser's outbox gives each message one): a retry of a message
# whose acknowledgement was lost is answered with the first answer instead of being stored twice.
SEND_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
SEND_NONCE_TTL = 600
SEND_PENDING_TTL = 30  # a claim whose answer was never kept (Redis went away) frees itself

# KEYS[1] bucket; ARGV: capacity, refill per second, now (s). Returns {allowed, wait_ms}.
# Redis keeps the bucket, so every web process shares one count per user.
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, wait}
"""


@functools.lru_cache(maxsize=8)
def _token_bucket(redis: Redis):
    """The bucket script, registered once per client (it then runs by its SHA, EVALSHA)."""
    return redis.register_script(TOKEN_BUCKET)


def take_token(redis: Redis, key: str, capacity: float, per_second: float) -> float:
    """Spend one token from the bucket at `key`; 0 when allowed, else seconds until one is back."""
    allowed, wait_ms = _token_bucket(redis)(keys=[f"{PREFIX}:bucket:{key}"],
                              args=[capacity, per_second, f"{time.time():.3f}"])
    return 0.0 if int(allowed) else max(0.1, int(wait_ms) / 1000)


def take_slow_mode(redis: Redis, channel_id: int, user_id: int, seconds: int) -> float:
    """Claim the user's slow-mode slot; 0 when claimed, else seconds left on the current one."""
    key = f"{PREFIX}:slow:{channel_id}:{user_id}"
    if redis.set(key, "1", ex=seconds, nx=True):
        return 0.0
    left_ms = redis.pttl(key)
    return max(0.1, left_ms / 1000) if left_ms > 0 else 0.1


def count_connect(redis: Redis, address: str, per_minute: int) -> float:
    """Count one anonymous connect from `address` in this minute; seconds to wait when over."""
    window = int(time.time() // 60)
    key = f"{PREFIX}:connects:{address}:{window}"
    pipe = redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count, _ = pipe.execute()
    if count <= per_minute:
        return 0.0
    return math.ceil((window + 1) * 60 - time.time()) or 1


def recent_texts(redis: Redis, channel_id: int, user_id: int) -> list[str]:
    """The user's last few messages here, most recent first (for the duplicate check)."""
    return [t.decode() for t in redis.lrange(f"{PREFIX}:recent:{channel_id}:{user_id}", 0, 4)]


def remember_text(redis: Redis, channel_id: int, user_id: int, text: str, ttl: int = 30) -> None:
    key = f"{PREFIX}:recent:{channel_id}:{user_id}"
    pipe = redis.pipeline()
    pipe.lpush(key, text)
    pipe.ltrim(key, 0, 4)
    pipe.expire(key, ttl)
    pipe.execute()


def claim_send(redis: Redis, user_id: int, nonce: str) -> dict | None:
    """Claim a send's nonce: None on its first try, else what the first try answered
    (`{"pending": True}` while that one is still being handled)."""
    key = f"{PREFIX}:sent:{user_id}:{nonce}"
    if redis.set(key, "", nx=True, ex=SEND_PENDING_TTL):
        return None
    earlier = redis.get(key)
    return json.loads(earlier) if earlier else {"pending": True}


def settle_send(redis: Redis, user_id: int, nonce: str, ack: dict | None) -> None:
    """Keep the answer for retries of this nonce, or (`ack` None: refused) let a retry try afresh."""
    key = f"{PREFIX}:sent:{user_id}:{nonce}"
    if ack is None:
        redis.delete(key)
    else:
        redis.set(key, json.dumps(ack), ex=SEND_NONCE_TTL)
