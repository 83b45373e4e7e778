"""Privacy rights: a member's data exports (the ZIP an RQ job builds for them, app.privacy.exports)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

EXPORT_STATES = ("queued", "building", "ready", "failed", "expired")


class DataExport(Model):
    """One export asked for by its owner: queued, built into a private object, then expired."""

    __tablename__ = "data_exports"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'building', 'ready', 'failed', 'expired')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The link stops working, and the object is deleted, at this time (set when it is ready).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # A private key under exports/ (never a public prefix): app.privacy.exports.object_key.
    object_key: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The link's token is an HMAC of this random value under the app's secret key: a copy of
    # the table alone opens no export (app.privacy.exports.link_token).
    nonce: Mapped[str] = mapped_column(String(64))

    @property
    def is_ready(self) -> bool:
        return self.state == "ready"

    def __repr__(self) -> str:
        return f"<DataExport {self.id} of user {self.user_id} {self.state}>"
