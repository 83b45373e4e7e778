"""One owner per live session: a lease in Redis with a fencing token.

A host that acquires a session's lease gets a token greater than every earlier owner's (a counter
per session). It renews the lease every RENEW_EVERY seconds; the key expires TTL seconds after the
last renewal Redis saw. The holder stops writing at its *local* deadline, counted from before it
sent its last successful renewal and SAFETY seconds short of the TTL, so a host cut off from Redis
has stopped before the key can expire and another host take the session: two hosts never write one
playlist. Writes that outlive the process's view (the database row) carry the token and lose to a
newer one (app.live.runtime.fenced).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from .state import LiveKeys

log = logging.getLogger(__name__)

TTL = 10.0          # seconds the key lives after a renewal (the ceiling)
RENEW_EVERY = 2.0   # seconds between renewals
SAFETY = 2.0        # the holder gives up this long before the key can expire

# KEYS: lease, fence. ARGV: host id, ttl ms, floor. Returns the new token, or 0 when someone holds
# it. The floor (the newest token the database has seen) keeps tokens growing even when Redis
# lost its data (it keeps nothing on disk here).
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return token
"""
# KEYS: lease, fence. ARGV: expected value, ttl ms, token. 1 when renewed, 0 when the lease is
# someone else's. A key that vanished (Redis restarted empty) is ours again unless the fence shows
# a newer owner came (and released it) in between, and the fence is raised to our token for the
# next owner.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
  if fence > tonumber(ARGV[3]) then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if fence < tonumber(ARGV[3]) then
    redis.call('SET', KEYS[2], ARGV[3])
  end
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def holder(redis: Redis, keys: LiveKeys, session_id: int) -> tuple[str, int] | None:
    """(host id, token) of the session's current owner, or None."""
    value = redis.get(keys.lease(session_id))
    if not value:
        return None
    host, _, token = value.decode().rpartition(" ")
    return host, int(token) if token.isdigit() else 0


def release_dead(redis: Redis, keys: LiveKeys, session_id: int, host_id: str, token: int) -> bool:
    """Drop the lease of an owner known to be dead (a host process on this machine that is gone),
    so a restarted host need not wait out the TTL. Only that exact lease: a newer one stays."""
    return bool(redis.eval(_RELEASE, 1, keys.lease(session_id), f"{host_id} {token}"))


class Lease:
    """A held lease. `valid()` is the only question a writer asks: it needs no Redis."""

    def __init__(self, redis: Redis, keys: LiveKeys, session_id: int, host_id: str, token: int,
                 acquired: float, *, ttl: float = TTL, clock: Callable[[], float] = time.monotonic,
                 alone: Callable[[], bool] = lambda: False):
        self.redis, self.keys = redis, keys
        self.session_id, self.host_id, self.token = session_id, host_id, token
        self.ttl, self.clock, self.alone = ttl, clock, alone
        self.value = f"{host_id} {token}"
        self.deadline = acquired + ttl - SAFETY
        self.lost = False
        self.unreachable = False  # the last renewal could not reach Redis
        self.renewed_at = acquired

    @classmethod
    def acquire(cls, redis: Redis, keys: LiveKeys, session_id: int, host_id: str, *, floor: int = 0,
                ttl: float = TTL, clock: Callable[[], float] = time.monotonic,
                alone: Callable[[], bool] = lambda: False) -> Lease | None:
        """Take the session's lease if nobody holds it; `floor`: the newest token already used.
        `alone()`: whether this host was the only live host when Redis last answered (see valid)."""
        sent = clock()
        token = int(redis.eval(_ACQUIRE, 2, keys.lease(session_id), keys.fence(session_id),
                               host_id, int(ttl * 1000), int(floor)))
        if not token:
            return None
        return cls(redis, keys, session_id, host_id, token, sent, ttl=ttl, clock=clock, alone=alone)

    def valid(self) -> bool:
        """Whether the holder may write. Past the deadline only while Redis cannot be reached and
        no other live host was there when it last could: with no peer, nobody can take the session
        over (and when Redis is back, the renewal finds the key ours or gone), so a stream goes on
        through a Redis outage. With peers, a host cut off from Redis stops before its key can
        expire, as the lease was made for."""
        if self.lost:
            return False
        return self.clock() < self.deadline or (self.unreachable and self.alone())

    def renew(self) -> bool:
        """Extend the lease; False once it is lost for good (another owner, or past the deadline).
        A Redis error leaves the deadline where it was: the holder keeps going until then."""
        if self.lost:
            return False
        sent = self.clock()
        try:
            renewed = self.redis.eval(_RENEW, 2, self.keys.lease(self.session_id),
                                      self.keys.fence(self.session_id), self.value,
                                      int(self.ttl * 1000), self.token)
        except RedisError as error:
            self.unreachable = True
            if not self.valid():
                self.lost = True
                log.warning("session %s: lease expired while Redis was unreachable (%s)",
                            self.session_id, error)
            return not self.lost
        self.unreachable = False
        if not renewed:
            self.lost = True
            log.warning("session %s: lease %s was taken over", self.session_id, self.token)
            return False
        self.deadline = sent + self.ttl - SAFETY
        self.renewed_at = sent
        return True

    def due(self) -> bool:
        return self.clock() - self.renewed_at >= RENEW_EVERY

    def release(self) -> None:
        self.lost = True
        try:
            self.redis.eval(_RELEASE, 1, self.keys.lease(self.session_id), self.value)
        except RedisError:
            pass  # it expires by itself within the TTL
