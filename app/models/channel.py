"""Channels, their categories, moderators and followers."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import User

STREAM_KEY_PREFIX = "live"

# How far behind real time viewers watch: "low" trades some resilience on slow connections for
# talking with chat; "normal" buffers a few seconds more. Read when a stream starts.
LATENCY_LOW = "low"
LATENCY_NORMAL = "normal"
LATENCY_MODES = (LATENCY_LOW, LATENCY_NORMAL)


def hash_stream_key(key: str) -> str:
    # Keys carry 240 random bits, so a plain SHA-256 is a safe one-way store.
    return hashlib.sha256(key.encode()).hexdigest()


class Category(Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    cover_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Channel(Model):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    slug: Mapped[str] = mapped_column(String(25), unique=True)
    title: Mapped[str] = mapped_column(String(140), default="", server_default="")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    stream_key_hash: Mapped[str | None] = mapped_column(String(64))
    stream_key_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_live: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0", index=True)
    live_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by site staff: the channel's keys are refused at publish time, until `live_banned_until`
    # when it is set (a suspension), for good when it is not.
    live_banned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    live_banned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The creator pressed Stop: publishes are refused until then (or until they lift it), so an
    # encoder that reconnects by itself (OBS's default) does not put the channel back on air.
    publish_blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest frame of the live stream, and a creator's own picture that overrides it.
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    custom_thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    mature: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Keys of app.mature.labels.CONTENT_LABELS the creator chose; a VOD starts with a copy.
    content_labels: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    record: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    latency_mode: Mapped[str] = mapped_column(String(8), default=LATENCY_LOW, server_default=LATENCY_LOW)
    # Days to keep this channel's recordings; None follows the instance's VOD_RETENTION_DAYS,
    # 0 keeps them for good.
    vod_retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship(back_populates="channel")
    category: Mapped[Category | None] = relationship()

    def rotate_stream_key(self) -> str:
        """Give the channel a new key and return it; the old one stops working at once."""
        key = f"{STREAM_KEY_PREFIX}_{self.id}_{secrets.token_urlsafe(30)}"
        self.stream_key_hash = hash_stream_key(key)
        self.stream_key_created_at = utcnow()
        return key

    def check_stream_key(self, key: str) -> bool:
        if not self.stream_key_hash:
            return False
        return hmac.compare_digest(hash_stream_key(key), self.stream_key_hash)

    @staticmethod
    def id_from_stream_key(key: str) -> int | None:
        """The channel id a key names, so the hook can load one row and compare in constant time."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != STREAM_KEY_PREFIX or not parts[1].isdigit():
            return None
        return int(parts[1])

    @property
    def display_title(self) -> str:
        return self.title or f"{self.owner.display_name}'s stream"


class ChannelRole(Model):
    """A channel-level role granted by the owner (today: moderator)."""

    __tablename__ = "channel_roles"
    __table_args__ = (
        UniqueConstraint("channel_id", "user_id", name="uq_channel_roles_member"),
        CheckConstraint("role IN ('moderator')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="moderator")
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Follow(Model):
    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
