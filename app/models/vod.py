"""Recordings of past broadcasts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .channel import Channel
from .types import UTCDateTime, utcnow

VISIBILITY_PRIVATE = "private"
VISIBILITY_PUBLIC = "public"
# Every object of a recording lives under `vods/<session id>/` in storage (see workers/vod.py):
# master.m3u8, <rung>/index.m3u8 and its media, video.mp4, poster.jpg, sprite-<n>.jpg,
# thumbnails.vtt. nginx serves that folder at /vods/ only after asking the app (auth_request).
VOD_PREFIX = "vods/"


def vod_prefix(session_id: int) -> str:
    """The storage folder of the recording of session `session_id`."""
    return f"{VOD_PREFIX}{int(session_id)}/"


class VOD(Model):
    __tablename__ = "vods"
    __table_args__ = (CheckConstraint("visibility IN ('private', 'public')", name="visibility"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    # One VOD per session at most, so a retried VOD job cannot make a second one.
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("stream_sessions.id", ondelete="SET NULL"), unique=True
    )
    title: Mapped[str] = mapped_column(String(140), default="", server_default="")
    object_key: Mapped[str] = mapped_column(String(255))
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    # Recordings stay private until the creator publishes them.
    visibility: Mapped[str] = mapped_column(String(16), default="private", server_default="private")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The storage folder holding every object of this VOD ("vods/12/"); unique, so access
    # checks can go from a URL to its VOD.
    storage_prefix: Mapped[str | None] = mapped_column(String(255), unique=True)
    download_key: Mapped[str | None] = mapped_column(String(255))  # MP4 of the top rung
    thumbnails_key: Mapped[str | None] = mapped_column(String(255))  # WebVTT seek previews
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Wall-clock time of the first recorded frame: chat replay lines messages up from here.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Copied from the channel when the VOD is made (workers/vod.py); the creator may change them.
    mature: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    content_labels: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Disabled after a copyright notice (app.safety.dmca): nobody can play it, its page answers
    # 451, until a counter-notice's restore or the notice's retraction.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel: Mapped[Channel] = relationship()

    @property
    def is_public(self) -> bool:
        return self.visibility == VISIBILITY_PUBLIC

    def display_title(self) -> str:
        if self.title:
            return self.title
        when = self.started_at or self.created_at
        return f"Broadcast of {when:%d %b %Y}" if when else "Broadcast"
