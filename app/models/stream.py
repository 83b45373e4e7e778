"""A live broadcast from publish to unpublish."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .channel import Channel
from .types import UTCDateTime, utcnow

SESSION_STATES = ("live", "reconnecting", "ended")


class StreamSession(Model):
    """One broadcast. A publisher who drops and returns within the grace period continues it."""

    __tablename__ = "stream_sessions"
    __table_args__ = (CheckConstraint("status IN ('live', 'reconnecting', 'ended')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    # The name the ingest server knows the stream by after the publish hook renames it;
    # unlike the stream key it is safe in paths, URLs and logs.
    internal_name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(140), default="", server_default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # live: a publisher is connected; reconnecting: it left less than the grace period ago.
    status: Mapped[str] = mapped_column(String(16), default="live", server_default="live", index=True)
    publisher_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which ingest server holds the publisher ("nginx" or "srs") and its client id there,
    # so Stop can drop exactly this publisher.
    ingest: Mapped[str] = mapped_column(String(8), default="nginx", server_default="nginx")
    client_id: Mapped[str | None] = mapped_column(String(64))
    renditions: Mapped[list] = mapped_column(JSON, default=list)
    # What the live runtime gave the stream (app.live.capacity: "ladder", "reduced" or
    # "passthrough"; None until a live host takes it) and why, in words for the creator.
    mode: Mapped[str | None] = mapped_column(String(16))
    mode_reason: Mapped[str] = mapped_column(String(400), default="", server_default="")
    # The live host that owns the session now (app.live.hosts) and the fencing token of its
    # lease: a runner's writes carry its token and lose to any newer one (app.live.lease).
    host: Mapped[str | None] = mapped_column(String(128))
    lease_token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # When the stream first became playable; the channel is announced live only then.
    playable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announced: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Where live hosts pull this stream: the ingest server that holds it ({name} left in).
    ingest_url: Mapped[str | None] = mapped_column(String(255))
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The post-stream summary (app.analytics.reports.broadcast_figures), written once the
    # broadcast's viewers have all left (workers/analytics.py).
    summary: Mapped[dict | None] = mapped_column(JSON)
    summary_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel: Mapped[Channel] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status != "ended"
