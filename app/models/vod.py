"""Recordings of past broadcasts."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .channel import Channel
from .types import UTCDateTime, utcnow


class VOD(db.Model):
    __tablename__ = "vods"
    __table_args__ = (CheckConstraint("visibility IN ('private', 'public')", name="visibility"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    # One VOD per session at most, so a retried VOD job cannot make a second one.
    session_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("stream_sessions.id", ondelete="SET NULL"), unique=True
    )
    title: Mapped[str] = mapped_column(String(140), default="", server_default="")
    object_key: Mapped[str] = mapped_column(String(255))
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    thumbnail_key: Mapped[Optional[str]] = mapped_column(String(255))
    # Recordings stay private until the creator publishes them.
    visibility: Mapped[str] = mapped_column(String(16), default="private", server_default="private")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    channel: Mapped[Channel] = relationship()
