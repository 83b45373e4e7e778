"""Chat messages, kept for history, moderation and VOD chat replay."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import User

MESSAGE_STATES = ("visible", "held", "deleted")


class ChatMessage(Model):
    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_channel_created", "channel_id", "created_at"),
        # History and reconnects read "this channel, after message id N".
        Index("ix_chat_messages_channel_id_id", "channel_id", "id"),
        CheckConstraint("state IN ('visible', 'held', 'deleted')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("stream_sessions.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="visible", server_default="visible")
    # Why automod or a filter held or flagged the message, for the review queue.
    flags: Mapped[str | None] = mapped_column(String(255))
    # The sender's role badges when they spoke ("owner", "moderator", "admin"), comma-separated.
    badges: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


LINK_POLICIES = ("allow", "block", "allowlist")
AUTOMOD_LEVELS = ("off", "low", "high")


class ChatSettings(Model):
    """A channel's chat modes and filters; a channel without a row has the defaults."""

    __tablename__ = "chat_settings"
    __table_args__ = (
        CheckConstraint("link_policy IN ('allow', 'block', 'allowlist')", name="link_policy"),
        CheckConstraint("automod_level IN ('off', 'low', 'high')", name="automod_level"),
        CheckConstraint("slow_seconds >= 0", name="slow_seconds"),
        CheckConstraint("followers_min_minutes >= 0", name="followers_min_minutes"),
    )

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    slow_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    followers_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    followers_min_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    emote_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    link_policy: Mapped[str] = mapped_column(String(16), default="allow", server_default="allow")
    allowed_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    automod_level: Mapped[str] = mapped_column(String(8), default="low", server_default="low")
    # "Clear chat" hides everything up to this message id from history, without deleting rows.
    cleared_through_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BlockedTerm(Model):
    """A term refused in chat: for one channel, or site-wide when channel_id is null."""

    __tablename__ = "blocked_terms"
    __table_args__ = (UniqueConstraint("channel_id", "term", name="uq_blocked_terms_term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    term: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatBan(Model):
    """A user kept out of a channel's chat: a timeout until expires_at, or a ban when it is null."""

    __tablename__ = "chat_bans"
    __table_args__ = (UniqueConstraint("channel_id", "user_id", name="uq_chat_bans_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def is_ban(self) -> bool:
        return self.expires_at is None

    def active_at(self, moment: datetime) -> bool:
        return self.expires_at is None or self.expires_at > moment


class ChatMute(Model):
    """A viewer hiding another user's messages for themselves only."""

    __tablename__ = "chat_mutes"
    __table_args__ = (CheckConstraint("user_id <> muted_user_id", name="not_self"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    muted_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
