"""A live broadcast from publish to unpublish."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .channel import Channel
from .types import UTCDateTime, utcnow


SESSION_STATES = ("live", "reconnecting", "ended")


class StreamSession(db.Model):
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
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # live: a publisher is connected; reconnecting: it left less than the grace period ago.
    status: Mapped[str] = mapped_column(String(16), default="live", server_default="live", index=True)
    publisher_left_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Which ingest server holds the publisher ("nginx" or "srs") and its client id there,
    # so Stop can drop exactly this publisher.
    ingest: Mapped[str] = mapped_column(String(8), default="nginx", server_default="nginx")
    client_id: Mapped[Optional[str]] = mapped_column(String(64))
    renditions: Mapped[list] = mapped_column(JSON, default=list)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    channel: Mapped[Channel] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status != "ended"
