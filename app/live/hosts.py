"""The registry of live hosts: each host's heartbeat (capacity, load, sessions) in Redis, and the
placement of a new session on the host with the most free capacity."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from redis import Redis

from .state import LiveKeys

HEARTBEAT_EVERY = 1.0   # seconds between a host's heartbeats
HEARTBEAT_TTL = 5.0     # a host silent this long is gone (its sessions' leases expire soon after)
PLACEMENT_TTL = 3.0     # seconds other hosts leave a placed session to the chosen host


@dataclass
class HostSession:
    session_id: int
    internal_name: str
    channel: str
    mode: str | None
    renditions: list[str]
    cost: float
    state: str


@dataclass
class HostInfo:
    """What a host says about itself every HEARTBEAT_EVERY seconds."""

    id: str
    hostname: str
    pid: int
    cpu_count: int
    capacity_cores: float
    hw_sessions: int
    encoder: str
    reserved_cores: float = 0.0    # what its sessions were admitted at
    reserved_hw: int = 0
    load_cores: float = 0.0        # what its encoders actually used over the last seconds
    calibrated: bool = False
    started_at: float = field(default_factory=time.time)
    heartbeat_at: float = 0.0
    sessions: list[HostSession] = field(default_factory=list)

    @property
    def free_cores(self) -> float:
        return max(0.0, self.capacity_cores - self.reserved_cores)

    @property
    def free_hw(self) -> int:
        return max(0, self.hw_sessions - self.reserved_hw)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> HostInfo:
        data = json.loads(text)
        data["sessions"] = [HostSession(**found) for found in data.get("sessions", ())]
        return cls(**data)


def publish(redis: Redis, keys: LiveKeys, info: HostInfo) -> None:
    info.heartbeat_at = time.time()
    pipe = redis.pipeline()
    pipe.set(keys.host(info.id), info.to_json(), px=int(HEARTBEAT_TTL * 1000))
    pipe.zadd(keys.hosts, {info.id: info.heartbeat_at})
    pipe.execute()


def withdraw(redis: Redis, keys: LiveKeys, host_id: str) -> None:
    pipe = redis.pipeline()
    pipe.delete(keys.host(host_id))
    pipe.zrem(keys.hosts, host_id)
    pipe.execute()


def live_hosts(redis: Redis, keys: LiveKeys) -> list[HostInfo]:
    """Every host whose heartbeat has not expired, most free capacity first; forgets the rest."""
    ids = [raw.decode() for raw in redis.zrange(keys.hosts, 0, -1)]
    if not ids:
        return []
    found, gone = [], []
    for host_id, raw in zip(ids, redis.mget([keys.host(host_id) for host_id in ids])):
        if raw is None:
            gone.append(host_id)
        else:
            found.append(HostInfo.from_json(raw))
    if gone:
        redis.zrem(keys.hosts, *gone)
    return sorted(found, key=lambda host: (-host.free_cores, -host.free_hw, host.id))


def place(redis: Redis, keys: LiveKeys, session_id: int) -> str | None:
    """Choose the host with the most free capacity for a new session and wake the hosts. Returns
    the chosen host id, or None when no host is running (the session waits for one)."""
    hosts = live_hosts(redis, keys)
    chosen = hosts[0].id if hosts else None
    if chosen is not None:
        redis.set(keys.placement(session_id), chosen, px=int(PLACEMENT_TTL * 1000))
    redis.publish(keys.wake, f"{PLACED}{int(session_id)}")
    return chosen


# A wake-up for a newly placed session: hosts look for sessions to take, but a runner that may
# already have it (a scan can find the session before this message arrives) is left alone; a
# poke would cut short the probe of a pull that is already connected, and a new pull would
# join mid-stream and wait a whole GOP for its first picture.
PLACED = "placed:"


def wake(redis: Redis, keys: LiveKeys, session_id: int) -> None:
    """Tell the hosts a session changed (its publisher left, it ended): they look now, and the
    runner that has it looks at its status at once."""
    redis.publish(keys.wake, str(int(session_id)))


def changed_session(message: bytes | str) -> int | None:
    """The session a wake-up says changed (its runner is poked), None for a placement."""
    text = message.decode("ascii", "replace") if isinstance(message, bytes) else str(message)
    return int(text) if text.isdigit() else None


def placed_on(redis: Redis, keys: LiveKeys, session_id: int) -> str | None:
    raw = redis.get(keys.placement(session_id))
    return raw.decode() if raw else None
