"""Trust and safety: reports folded into cases, the actions taken on them with their statements
of reasons, appeals, the thread between reporters and staff, and the append-only audit log.

A report is what one person sent; a case is the target (a chat message, a channel, a VOD, a
profile) with every open report on it, so duplicates are handled once. An action (`Sanction`)
is what staff did to a person, with the statement of reasons they are shown; an appeal belongs
to exactly one action.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .channel import Channel
from .types import UTCDateTime, utcnow
from .user import User

TARGET_TYPES = ("message", "channel", "vod", "user")
CASE_STATES = ("open", "in_review", "actioned", "dismissed")
OPEN_STATES = ("open", "in_review")
SANCTION_KINDS = ("remove", "warn", "strike", "live_suspend", "account_suspend", "terminate")
APPEAL_STATES = ("pending", "upheld", "rejected")

_OPEN = "state IN ('open', 'in_review')"


class Case(Model):
    """Everything reported about one target while it is open; decided once."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'in_review', 'actioned', 'dismissed')", name="state"),
        CheckConstraint("target_type IN ('message', 'channel', 'vod', 'user')", name="target_type"),
        # One open case per target: a second report on it joins the first (race-safe).
        Index("ux_cases_open_target", "target_type", "target_id", unique=True,
              sqlite_where=text(_OPEN), postgresql_where=text(_OPEN)),
        Index("ix_cases_queue", "state", "priority", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(Integer)
    # Chat reports are the channel's staff's to handle; everything else (channel None) the site's.
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), index=True)
    # The person the reported content belongs to, and a readable name that outlives them.
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    target_label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reason: Mapped[str] = mapped_column(String(32))  # the most urgent reason reported
    priority: Mapped[int] = mapped_column(Integer)  # 0 first: child safety, then illegal content...
    state: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What reporters are told: the outcome, never the other party's private details.
    outcome: Mapped[str] = mapped_column(Text, default="", server_default="")

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    channel: Mapped[Channel | None] = relationship()
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id])
    reports: Mapped[list[Report]] = relationship(back_populates="case", order_by="Report.id")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class Report(Model):
    """One person's report, with the evidence kept when it was made."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Null for a logged-out notice (its contact_email says whom to answer) or a deleted account.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, default="", server_default="")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    good_faith: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # A VOD's reported range, or the live moment (seconds into the broadcast) of a channel report.
    range_start: Mapped[float | None] = mapped_column(Float)
    range_end: Mapped[float | None] = mapped_column(Float)
    # What the reporter saw, frozen at report time (chat lines around a message, a profile...).
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    case: Mapped[Case] = relationship(back_populates="reports")
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])


class CaseNote(Model):
    """A note on a case. Without `report_id` it is for staff only; with it, it is a message in
    the thread between that report's reporter and staff."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_staff: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])


class Sanction(Model):
    """An action taken against a person, with the statement of reasons they are shown."""

    __tablename__ = "sanctions"
    __table_args__ = (
        CheckConstraint("kind IN ('remove', 'warn', 'strike', 'live_suspend', 'account_suspend', "
                        "'terminate')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Set when channel staff acted (a chat report); None for the site's staff.
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))  # a reason key (app.safety.rules)
    rule_text: Mapped[str] = mapped_column(Text)  # the rule as it read when the action was taken
    statement: Mapped[str] = mapped_column(Text)  # what the person is told, in staff's words
    content_type: Mapped[str | None] = mapped_column(String(16))
    content_id: Mapped[int | None] = mapped_column(Integer)
    content_label: Mapped[str] = mapped_column(Text, default="", server_default="")
    automated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set once an expiring suspension has been lifted by the clock.
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person opened the statement; until then the site shows them a notice.
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    case: Mapped[Case | None] = relationship()
    appeal: Mapped[Appeal | None] = relationship(back_populates="sanction", uselist=False)


class Appeal(Model):
    """The one appeal an action may have, decided by staff other than whoever took the action."""

    __tablename__ = "appeals"
    __table_args__ = (CheckConstraint("state IN ('pending', 'upheld', 'rejected')", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sanction_id: Mapped[int] = mapped_column(ForeignKey("sanctions.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(Text, default="", server_default="")

    sanction: Mapped[Sanction] = relationship(back_populates="appeal")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class AuditEntry(Model):
    """One line of the audit log. Written once and never changed: no route edits or deletes it,
    and the names are copied in so the line still reads after the people are purged."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48), index=True)
    target_type: Mapped[str] = mapped_column(String(16), default="", server_default="")
    target_id: Mapped[int | None] = mapped_column(Integer)
    target_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


DMCA_STATES = ("disabled", "counter_noticed", "restored", "lawsuit", "retracted")


class DmcaNotice(Model):
    """A valid §512(c)(3) takedown notice and what came of it. The claimant's details are kept
    for the counter-notice and the records; the uploader sees their name and the work claimed."""

    __tablename__ = "dmca_notices"
    __table_args__ = (
        CheckConstraint("state IN ('disabled', 'counter_noticed', 'restored', 'lawsuit', 'retracted')",
                        name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vod_id: Mapped[int | None] = mapped_column(ForeignKey("vods.id", ondelete="SET NULL"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    material_label: Mapped[str] = mapped_column(String(300))  # readable after the VOD is gone
    material_url: Mapped[str] = mapped_column(String(500))
    work: Mapped[str] = mapped_column(Text)
    claimant_name: Mapped[str] = mapped_column(String(200))  # the signature
    claimant_address: Mapped[str] = mapped_column(Text)
    claimant_phone: Mapped[str] = mapped_column(String(64))
    claimant_email: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(16), default="disabled", server_default="disabled", index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    strike_id: Mapped[int | None] = mapped_column(ForeignKey("sanctions.id", ondelete="SET NULL"))
    # The counter-notice (§512(g)(3)), once the uploader sends one.
    counter_name: Mapped[str | None] = mapped_column(String(200))
    counter_address: Mapped[str | None] = mapped_column(Text)
    counter_phone: Mapped[str | None] = mapped_column(String(64))
    counter_statement: Mapped[str | None] = mapped_column(Text)
    counter_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restore_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    strike: Mapped[Sanction | None] = relationship()
