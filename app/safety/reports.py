"""Filing a report: what can be reported, the evidence kept at report time, the per-account limit,
and folding reports on one target into one open case.

Evidence is frozen when the report is made, so a message edited or purged later, a profile
rewritten or a stream ended still shows staff what the reporter saw.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..channels.services import live_session
from ..extensions import db
from ..models import VOD, Case, CaseNote, Channel, ChatMessage, DonationAddress, Report, User, utcnow
from ..models.safety import OPEN_STATES, TARGET_TYPES
from ..vods.access import can_view_vod
from . import audit, outcomes, rules
from .errors import SafetyError

CONTEXT_LINES = 20  # chat lines kept on each side of a reported message
MAX_DETAILS = 2000
TARGET_NAMES = {"message": "chat message", "channel": "channel", "vod": "video", "user": "profile"}


class ReportError(SafetyError):
    """A refusal of this module's (app.safety.errors)."""


@dataclass(frozen=True)
class Target:
    """Something that can be reported, as the report form and the case see it."""

    type: str
    id: int
    label: str  # readable, kept on the case after the target is gone
    owner: User | None  # whose content it is
    channel: Channel | None  # for chat messages: the channel whose staff handle it
    duration: float | None = None  # a VOD's, for the range
    slug: str | None = None  # a VOD's channel, for its address

    @property
    def noun(self) -> str:
        return TARGET_NAMES[self.type]


def find_target(target_type: str, target_id: int, viewer) -> Target:
    """The target, if it exists and the viewer can see it (else 404, as for a missing one)."""
    missing = ReportError("There is nothing to report there.", 404)
    if target_type not in TARGET_TYPES:
        raise missing
    if target_type == "message":
        message = db.session.get(ChatMessage, target_id)
        if message is None or message.state != "visible" or message.user.disabled:
            raise missing
        channel = db.session.get(Channel, message.channel_id)
        assert channel is not None
        return Target("message", message.id, f"chat message by @{message.user.username} in {channel.slug}",
                      message.user, channel)
    if target_type == "channel":
        channel = db.session.get(Channel, target_id)
        if channel is None or channel.owner.disabled:
            raise missing
        return Target("channel", channel.id, f"channel {channel.slug}", channel.owner, None)
    if target_type == "vod":
        vod = db.session.get(VOD, target_id)
        if vod is None or not can_view_vod(vod, viewer):
            raise missing
        return Target("vod", vod.id, f"video {vod.id} “{vod.display_title()}” on {vod.channel.slug}", vod.channel.owner,
                      None, vod.duration_seconds, vod.channel.slug)
    user = db.session.get(User, target_id)
    if user is None or user.disabled:
        raise missing
    return Target("user", user.id, f"profile @{user.username}", user, None)


def _evidence(target: Target, range_start: float | None) -> dict:
    """What staff will see, copied now."""
    if target.type == "message":
        message = db.session.get(ChatMessage, target.id)
        assert message is not None
        around = select(ChatMessage).where(ChatMessage.channel_id == message.channel_id)
        before = list(db.session.scalars(around.where(ChatMessage.id < message.id)
                                         .order_by(ChatMessage.id.desc()).limit(CONTEXT_LINES)))
        after = list(db.session.scalars(around.where(ChatMessage.id > message.id)
                                        .order_by(ChatMessage.id).limit(CONTEXT_LINES)))
        return {"lines": [{"id": line.id, "user": line.user.username, "text": line.text,
                           "at": line.created_at.isoformat(), "state": line.state,
                           "reported": line.id == message.id}
                          for line in [*reversed(before), message, *after]]}
    if target.type == "channel":
        channel = db.session.get(Channel, target.id)
        assert channel is not None
        session = live_session(channel)
        return {"title": channel.title, "tags": list(channel.tags or []), "live": session is not None,
                "session_id": session.id if session else None, "moment": range_start,
                "category": channel.category.name if channel.category else None}
    if target.type == "vod":
        vod = db.session.get(VOD, target.id)
        assert vod is not None
        return {"title": vod.title, "duration": vod.duration_seconds, "session_id": vod.session_id,
                "visibility": vod.visibility}
    user = db.session.get(User, target.id)
    assert user is not None
    profile = user.profile
    return {"username": user.username, "display_name": profile.display_name if profile else None,
            "bio": profile.bio if profile else "", "avatar_key": profile.avatar_key if profile else None,
            "banner_key": profile.banner_key if profile else None,
            "donation_addresses": [{"currency": entry.currency, "address": entry.address}
                                   for entry in db.session.scalars(select(DonationAddress).where(
                                       DonationAddress.user_id == user.id))]}


def _range(target: Target, start: float | None, end: float | None) -> tuple[float | None, float | None]:
    """A VOD's reported range (whole video when not given); a channel's live moment (now)."""
    if target.type == "vod":
        duration = target.duration or 0.0
        start = 0.0 if start is None else start
        end = duration if end is None else end
        if not (0 <= start < end <= duration + 1):
            raise ReportError(f"The range must be within the video (0 to {duration:.0f} s) and end after "
                              "it starts.", field="range")
        return start, end
    if target.type == "channel":
        channel = db.session.get(Channel, target.id)
        session = live_session(channel) if channel else None
        if session is not None:
            return round((utcnow() - session.started_at).total_seconds(), 1), None
    return None, None


def _check_limit(reporter: User) -> None:
    window = utcnow() - timedelta(hours=1)
    sent = db.session.scalar(select(func.count(Report.id)).where(
        Report.reporter_id == reporter.id, Report.created_at >= window)) or 0
    if sent >= current_app.config["REPORTS_PER_HOUR"]:
        raise ReportError("You have sent a lot of reports in the last hour. Please wait a while before "
                          "sending another.", 429)


def _open_case(target: Target, reason: rules.Reason) -> Case:
    """The target's open case (its priority raised to this reason's), or a new one."""
    query = select(Case).where(Case.target_type == target.type, Case.target_id == target.id,
                               Case.state.in_(OPEN_STATES))
    case = db.session.scalars(query).first()
    if case is None:
        case = Case(target_type=target.type, target_id=target.id, target_label=target.label[:200],
                    target_user_id=target.owner.id if target.owner else None,
                    channel_id=target.channel.id if target.channel else None,
                    reason=reason.key, priority=reason.priority)
        db.session.add(case)
        try:
            db.session.flush()  # the unique index on open targets: another report may have won
        except IntegrityError:
            db.session.rollback()
            case = db.session.scalars(query).one()
    if reason.priority < case.priority:
        case.reason, case.priority = reason.key, reason.priority
        if reason.priority <= rules.ILLEGAL.priority:
            case.channel_id = None  # illegal content and child safety go to the site's staff
    case.updated_at = utcnow()
    return case


def file_report(reporter: User | None, target: Target, reason_key: str, details: str = "", *,
                range_start: float | None = None, range_end: float | None = None,
                contact_email: str | None = None, good_faith: bool = False) -> Report:
    """Record a report with its evidence, in the target's open case. Signed-out notices need a
    contact address and a good-faith statement and may only name illegal content or child safety."""
    reason = rules.reason(reason_key)
    if reason is None:
        raise ReportError("Choose a reason from the list.", field="reason")
    if reason is rules.COPYRIGHT:
        raise ReportError("Copyright claims go through the copyright (DMCA) form.", field="reason")
    details = (details or "").strip()
    if len(details) > MAX_DETAILS:
        raise ReportError(f"Keep the details under {MAX_DETAILS} characters.", field="details")
    if reporter is None:
        if reason not in (rules.ILLEGAL, rules.CHILD_SAFETY):
            raise ReportError("Without an account you can report illegal content or a child safety "
                              "concern; sign in to report a rule break.", field="reason")
        if not contact_email:
            raise ReportError("Give an e-mail address so we can tell you what we did.", field="contact_email")
        if not good_faith:
            raise ReportError("Confirm that you send this notice in good faith.", field="good_faith")
        if not details:
            raise ReportError("Explain why the content is illegal.", field="details")
    else:
        if target.owner is not None and target.owner.id == reporter.id:
            raise ReportError("You can't report your own content.", 409)
        _check_limit(reporter)
    start, end = _range(target, range_start, range_end)
    case = _open_case(target, reason)
    if reporter is not None and db.session.scalar(select(Report.id).where(
            Report.case_id == case.id, Report.reporter_id == reporter.id)):
        db.session.rollback()
        raise ReportError("You have already reported this; we will tell you what happens.", 409)
    report = Report(case=case, reporter_id=reporter.id if reporter else None, reason=reason.key,
                    details=details, contact_email=contact_email if reporter is None else None,
                    good_faith=good_faith, range_start=start, range_end=end,
                    evidence=_evidence(target, start))
    db.session.add(report)
    db.session.commit()
    return report


# --- what reporters see ----------------------------------------------------------------------------

def reports_by(user: User) -> list[Report]:
    return list(db.session.scalars(select(Report).where(Report.reporter_id == user.id)
                                   .order_by(Report.id.desc())))


def report_of(user: User, report_id: int) -> Report:
    """The user's own report (404 for anyone else's, so no one learns whether it exists)."""
    report = db.session.get(Report, report_id)
    if report is None or report.reporter_id != user.id:
        raise ReportError("There is no such report.", 404)
    return report


def thread(report: Report) -> list[CaseNote]:
    """The messages between this report's reporter and staff, oldest first."""
    return list(db.session.scalars(select(CaseNote).where(CaseNote.report_id == report.id)
                                   .order_by(CaseNote.id)))


def reply(report: Report, author: User, body: str, *, from_staff: bool) -> CaseNote:
    body = (body or "").strip()
    if not body or len(body) > MAX_DETAILS:
        raise ReportError(f"Write a message of up to {MAX_DETAILS} characters.", field="body")
    note = CaseNote(case_id=report.case_id, report_id=report.id, author_id=author.id,
                    from_staff=from_staff, body=body)
    db.session.add(note)
    if from_staff:
        db.session.flush()
        # The fact is logged, not the words: the thread keeps those, and erasure clears them.
        audit.record(author, "case.reply", target_type="case", target_id=report.case_id,
                     target_name=report.case.target_label, detail=f"note {note.id} to report {report.id}")
    db.session.commit()
    if from_staff:
        outcomes.staff_replied(report)
    return note


def status_label(case: Case) -> str:
    """The case's state in the reporter's words."""
    return {"open": "Received", "in_review": "Being reviewed", "actioned": "Action taken",
            "dismissed": "No action taken"}[case.state]
