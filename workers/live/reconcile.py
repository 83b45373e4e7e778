"""What the database says is live, checked against what the ingest server holds.

nginx sends `publish_done` when a publisher leaves, but not always: stopped gracefully it closes
its listeners first and its hook cannot reach the app; killed, it sends nothing; and the app may be
down when the hook comes. Such a session stayed live for good: the channel shown live with a dead
player, and the creator refused ("already has a publisher") until they pressed Stop. One live host
at a time (a Redis lease) looks every few seconds, from its start: a session with no publisher at
the ingest server and no media reaching its host for GHOST_AFTER seconds is treated as a publisher
that left (app.streams.services.publisher_left): viewers see it offline at once, the creator's next
publish resumes it, and the reconnect grace ends it otherwise. It also ends the sessions whose grace
ran out long ago, and finishes the recordings of sessions that ended without it: the jobs that
should have done so lived in a Redis that went away.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.jobs import enqueue
from app.live import ingest
from app.live.state import RECONNECT_GRACE, work_dir
from app.models import StreamSession, utcnow
from app.streams import services as streams

if TYPE_CHECKING:
    from workers.live.host import LiveHost

log = logging.getLogger(__name__)

EVERY = 2.0          # seconds between looks
GHOST_AFTER = 4.0    # seconds a session must look unpublished before it is closed
LEADER_TTL = 10      # seconds another host waits before taking over from a host that died
EXPIRY_LATE = 10     # seconds past the reconnect grace before a session's lost expiry is made up
FINISH_LATE = 60     # seconds after its end before a session's finishing job counts as lost
FINISH_LOOKBACK_HOURS = 24


class Reconciler:
    def __init__(self, host: LiveHost) -> None:
        self.host = host
        self.next_at = 0.0
        self.unpublished_since: dict[int, float] = {}

    @property
    def leader_key(self) -> str:
        return f"{self.host.keys.prefix}reconciler"

    def lead(self) -> bool:
        """Whether this host is the one that reconciles (it renews its claim each time)."""
        redis = self.host.redis
        if redis.set(self.leader_key, self.host.id, nx=True, ex=LEADER_TTL):
            return True
        leader = (redis.get(self.leader_key) or b"").decode()
        if leader == self.host.id or self.host.dead_here(leader):
            redis.set(self.leader_key, self.host.id, ex=LEADER_TTL)
            return True
        return False

    def step(self, now: float | None = None) -> list[int]:
        """Look now if it is time; the ids of the sessions closed."""
        now = time.monotonic() if now is None else now
        if now < self.next_at:
            return []
        self.next_at = now + EVERY
        if not self.lead():
            self.unpublished_since.clear()
            return []
        db.session.rollback()
        self.expire_overdue()
        self.finish_missed()
        live = db.session.scalars(select(StreamSession).where(StreamSession.status == "live")).all()
        if not live:
            self.unpublished_since.clear()
            db.session.rollback()
            return []
        held = ingest.publishing(current_app.config["INGEST_STAT_URL"])
        closed = []
        for session in live:
            if held is None or not streams.publisher_missing(session, held):
                self.unpublished_since.pop(session.id, None)
                continue
            since = self.unpublished_since.setdefault(session.id, now)
            if now - since < GHOST_AFTER:
                continue
            log.warning("session %s (%s): no publisher at the ingest server and no media for %.0f s "
                        "(its publish_done never came); treating it as a publisher that left",
                        session.id, session.internal_name, now - since)
            streams.publisher_left(session)
            del self.unpublished_since[session.id]
            closed.append(session.id)
        for session_id in set(self.unpublished_since) - {s.id for s in live}:
            del self.unpublished_since[session_id]
        db.session.rollback()
        return closed

    def expire_overdue(self) -> None:
        """End the sessions whose reconnect grace ran out well ago: their expiry job is scheduled in
        Redis, and a Redis that was away (or lost its data) lost it with them."""
        overdue = utcnow() - RECONNECT_GRACE - timedelta(seconds=EXPIRY_LATE)
        for session in db.session.scalars(select(StreamSession).where(
                StreamSession.status == "reconnecting", StreamSession.publisher_left_at < overdue)).all():
            log.warning("session %s (%s): its reconnect grace ended %.0f s ago and nothing ended it; "
                        "ending it now", session.id, session.internal_name,
                        (utcnow() - cast(datetime, session.publisher_left_at) - RECONNECT_GRACE).total_seconds())
            streams.expire_session(session)

    def finish_missed(self) -> None:
        """Queue the finishing job (workers.live.finish, safe to run twice) of the sessions that
        ended lately and still have their work directory, which that job removes first: ended
        while Redis was away, their job was never queued."""
        config = current_app.config
        recent = utcnow() - timedelta(hours=FINISH_LOOKBACK_HOURS)
        settled = utcnow() - timedelta(seconds=FINISH_LATE)
        for session_id, name in db.session.execute(select(StreamSession.id, StreamSession.internal_name).where(
                StreamSession.status == "ended", StreamSession.ended_at > recent,
                StreamSession.ended_at < settled)).all():
            if not work_dir(config, name).is_dir():
                continue
            if not self.host.redis.set(f"{self.host.keys.prefix}finish-queued:{session_id}", "1",
                                       nx=True, ex=FINISH_LATE * 10):
                continue  # queued a while ago: give it time
            log.warning("session %s (%s): ended but never finished; queueing its recording now",
                        session_id, name)
            enqueue("workers.live.finish.finish_session", session_id)
