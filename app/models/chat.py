"""Chat messages, kept for history, moderation and VOD chat replay."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .user import User

MESSAGE_STATES = ("visible", "held", "deleted")


class ChatMessage(db.Model):
    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_channel_created", "channel_id", "created_at"),
        CheckConstraint("state IN ('visible', 'held', 'deleted')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("stream_sessions.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="visible", server_default="visible")
    # Why automod or a filter held or flagged the message, for the review queue.
    flags: Mapped[Optional[str]] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
