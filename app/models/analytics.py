"""Creator analytics: one row per player session (raw, kept ANALYTICS_RAW_DAYS), per-minute
rollups of a broadcast or a VOD (kept ANALYTICS_MINUTE_DAYS), per-day rollups of a channel (kept
forever). Every row is written by the rollup job (workers/analytics.py) from what the players
reported to Redis, with absolute values, so writing a row twice is harmless.

A `subject` names what was watched: "live:<stream session id>" or "vod:<vod id>". Durations are
seconds; histograms are {bucket upper bound in ms: count} (percentiles are read from them, never
averaged); renditions are {height: seconds played}.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class ViewerSession(Model):
    """One player on one page: what it watched and how well it played."""

    __tablename__ = "viewer_sessions"
    __table_args__ = (
        UniqueConstraint("subject", "play_id", name="ux_viewer_sessions_subject_play"),
        Index("ix_viewer_sessions_channel_started", "channel_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))
    play_id: Mapped[str] = mapped_column(String(64))  # the player's random id (its page's lifetime)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    stream_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("stream_sessions.id", ondelete="SET NULL"), index=True)
    vod_id: Mapped[int | None] = mapped_column(ForeignKey("vods.id", ondelete="SET NULL"), index=True)
    # A pseudonym: per channel for a signed-in viewer, per day, address and browser otherwise.
    viewer_key: Mapped[str] = mapped_column(String(32), default="", server_default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_after_s: Mapped[float | None] = mapped_column(Float)  # into the broadcast, for live
    state: Mapped[str] = mapped_column(String(12), default="starting", server_default="starting")
    play_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    rebuffer_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    rebuffers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    startup_ms: Mapped[int | None] = mapped_column(Integer)
    failed: Mapped[str | None] = mapped_column(String(40))  # a fatal error before the first frame
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    upscale_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    dropped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    frames: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    renditions: Mapped[dict] = mapped_column(JSON, default=dict)
    latency: Mapped[dict] = mapped_column(JSON, default=dict)  # histogram of its beats' latency
    target_ms: Mapped[int | None] = mapped_column(Integer)  # the latency its player aimed for
    positions: Mapped[list] = mapped_column(JSON, default=list)  # VOD: hundredths of it played
    device: Mapped[str] = mapped_column(String(8), default="desktop", server_default="desktop")
    referrer: Mapped[str | None] = mapped_column(String(253))
    embed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class StreamMinute(Model):
    """One minute of a broadcast or a VOD's viewing."""

    __tablename__ = "stream_minutes"
    __table_args__ = (
        UniqueConstraint("subject", "minute", name="ux_stream_minutes_subject_minute"),
        Index("ix_stream_minutes_channel_minute", "channel_id", "minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    stream_session_id: Mapped[int | None] = mapped_column(ForeignKey("stream_sessions.id", ondelete="SET NULL"))
    vod_id: Mapped[int | None] = mapped_column(ForeignKey("vods.id", ondelete="SET NULL"))
    minute: Mapped[datetime] = mapped_column(UTCDateTime)
    viewers_max: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Seconds of viewers present (playing, starting or rebuffering): ÷ 60 is the mean concurrency.
    present_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    joins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    leaves: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    play_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    rebuffer_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    rebuffers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    upscale_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    dropped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    frames: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chat_messages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    renditions: Mapped[dict] = mapped_column(JSON, default=dict)
    # {height: {"rebuffer_s", "upscale_s", "dropped", "frames"}}: QoE per rendition.
    rendition_qoe: Mapped[dict] = mapped_column(JSON, default=dict)
    startup: Mapped[dict] = mapped_column(JSON, default=dict)
    latency: Mapped[dict] = mapped_column(JSON, default=dict)


class ChannelDay(Model):
    """A channel's day (UTC), kept forever once the minutes and sessions it sums are gone."""

    __tablename__ = "channel_days"
    __table_args__ = (UniqueConstraint("channel_id", "day", name="ux_channel_days_channel_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    live_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # minutes with viewers
    viewers_max: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    present_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    play_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    vod_play_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    rebuffer_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    uniques: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    joins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chat_messages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    startup: Mapped[dict] = mapped_column(JSON, default=dict)
