"""A live broadcast from publish to unpublish."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .channel import Channel
from .types import UTCDateTime, utcnow


class StreamSession(db.Model):
    __tablename__ = "stream_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    # The name the ingest server knows the stream by after the publish hook renames it;
    # unlike the stream key it is safe in paths, URLs and logs.
    internal_name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(140), default="", server_default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    renditions: Mapped[list] = mapped_column(JSON, default=list)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    channel: Mapped[Channel] = relationship()

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
