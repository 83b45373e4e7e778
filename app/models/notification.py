"""In-app notifications: "a channel you follow is live", one per follower and session; and for a
member who reported something, "your report was decided" and "staff wrote to you about your
report" (app.safety.outcomes)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .channel import Channel
from .types import UTCDateTime, utcnow

KIND_LIVE = "live"
# A reporter's notifications point at no channel of the other party's: `channel_id` (NOT NULL, for
# "live") holds the reporter's own channel, and the link goes to their reports page.
KIND_REPORT_DECIDED = "report_decided"
KIND_REPORT_REPLY = "report_reply"
REPORT_KINDS = (KIND_REPORT_DECIDED, KIND_REPORT_REPLY)


class Notification(Model):
    __tablename__ = "notifications"
    __table_args__ = (
        # One "is live" per follower and session: a fan-out job that runs twice adds nothing.
        UniqueConstraint("user_id", "session_id", name="uq_notifications_user_session"),
        # The bell's unread count on every page: WHERE user_id = ? AND read_at IS NULL.
        Index("ix_notifications_user_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("stream_sessions.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default=KIND_LIVE, server_default=KIND_LIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel: Mapped[Channel] = relationship()

    @property
    def unread(self) -> bool:
        return self.read_at is None
