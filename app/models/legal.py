"""The operator's legal pages (terms, privacy, copyright policy), one row per published version."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

LEGAL_KINDS = ("terms", "privacy", "dmca")


class LegalDocument(Model):
    """A version of a legal page. Versions are never edited or deleted: a change is a new version
    with its own effective date, and the old ones stay readable at their own address."""

    __tablename__ = "legal_documents"
    __table_args__ = (
        UniqueConstraint("kind", "version"),
        CheckConstraint("kind IN ('terms', 'privacy', 'dmca')", name="kind"),
        CheckConstraint("version > 0", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    # What changed, in a sentence or two: the notice members see and the version list.
    summary: Mapped[str] = mapped_column(String(500), default="", server_default="")
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
