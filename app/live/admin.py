"""The live runtime as a site admin sees it: the live hosts and every open session.

`flask live hosts` and the /admin/live page show the same overview, built here from the hosts'
heartbeats (app.live.hosts) and the session rows; no Flask request in here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import StreamSession
from . import hosts
from .hosts import HostInfo
from .state import LiveKeys

WAITING = "waiting for a host"
PROBING = "starting"  # a host took it and is reading the stream


@dataclass(frozen=True)
class HostRow:
    id: str
    capacity_cores: float
    reserved_cores: float
    load_cores: float          # measured over the host's last seconds
    hw_used: int
    hw_sessions: int
    encoder: str
    sessions: int
    heartbeat_age: float       # seconds since its last heartbeat

    @classmethod
    def of(cls, info: HostInfo, now: float) -> HostRow:
        return cls(id=info.id, capacity_cores=info.capacity_cores, reserved_cores=info.reserved_cores,
                   load_cores=info.load_cores, hw_used=info.reserved_hw, hw_sessions=info.hw_sessions,
                   encoder=info.encoder, sessions=len(info.sessions),
                   heartbeat_age=max(0.0, now - info.heartbeat_at))


@dataclass(frozen=True)
class SessionRow:
    id: int
    channel: str
    status: str
    mode: str | None           # None until a live host takes the session
    renditions: list[str]
    host: str | None
    playable: bool

    @property
    def mode_text(self) -> str:
        return self.mode or (PROBING if self.host else WAITING)

    @classmethod
    def of(cls, session: StreamSession) -> SessionRow:
        return cls(id=session.id, channel=session.channel.slug, status=session.status, mode=session.mode,
                   renditions=rendition_names(session.renditions), host=session.host,
                   playable=session.playable_at is not None)


@dataclass(frozen=True)
class LiveOverview:
    hosts: list[HostRow]
    sessions: list[SessionRow]
    # Why the hosts are unknown (Redis unreachable); the sessions come from the database anyway.
    hosts_error: str | None = None


def rendition_names(renditions: list | None) -> list[str]:
    """The rung names of a session's `renditions` column: the live hosts store names, the
    transcode worker stored a dict per rung."""
    names = []
    for rendition in renditions or ():
        name = rendition.get("name") if isinstance(rendition, dict) else rendition
        if name:
            names.append(str(name))
    return names


def open_sessions() -> list[StreamSession]:
    """Every session that has not ended, oldest first."""
    return list(db.session.scalars(
        select(StreamSession).options(joinedload(StreamSession.channel))
        .where(StreamSession.status != "ended").order_by(StreamSession.id)))


def overview(redis: Redis, keys: LiveKeys, now: float | None = None) -> LiveOverview:
    """The hosts in placement order (most free capacity first) and the open sessions."""
    now = time.time() if now is None else now
    sessions = [SessionRow.of(session) for session in open_sessions()]
    try:
        found = hosts.live_hosts(redis, keys)
    except RedisError as error:
        return LiveOverview([], sessions, f"cannot reach Redis ({type(error).__name__})")
    return LiveOverview([HostRow.of(info, now) for info in found], sessions)
