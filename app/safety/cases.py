"""The staff queue: the cases a member of staff may handle, claiming, notes, escalation to the
site's staff, and telling reporters the outcome."""
from __future__ import annotations

from sqlalchemy import and_, or_, select

from ..channels.access import STAFF_ROLES
from ..extensions import db
from ..models import Case, CaseNote, Channel, ChannelRole, Report, Sanction, User, utcnow
from ..models.safety import CASE_STATES, OPEN_STATES
from . import audit
from .actions import ActionError, can_handle
from .reports import MAX_DETAILS

QUEUE_PAGE = 100


def queue(user: User, state: str = "open") -> list[Case]:
    """Cases the user may handle in `state` (open, in_review, actioned, dismissed), most urgent
    first. Channel staff get their channels' cases except those about themselves, and a moderator
    none about the channel's staff (as actions.can_handle: those are the site's staff's)."""
    states = (state,) if state in CASE_STATES else ("open",)
    query = select(Case).where(Case.state.in_(states))
    if not user.is_admin:
        owned = select(Channel.id).where(Channel.owner_id == user.id)
        moderated = select(ChannelRole.channel_id).where(ChannelRole.user_id == user.id,
                                                         ChannelRole.role.in_(STAFF_ROLES))
        staff_of_case = or_(
            Case.target_user_id.in_(select(User.id).where(User.role == "admin")),
            Case.target_user_id.in_(select(Channel.owner_id).where(Channel.id == Case.channel_id)),
            Case.target_user_id.in_(select(ChannelRole.user_id).where(ChannelRole.channel_id == Case.channel_id)))
        query = query.where(
            or_(Case.target_user_id.is_(None), Case.target_user_id != user.id),
            or_(Case.channel_id.in_(owned),
                and_(Case.channel_id.in_(moderated), or_(Case.target_user_id.is_(None), ~staff_of_case))))
    order = (Case.priority, Case.created_at) if state in OPEN_STATES else (Case.decided_at.desc(),)
    return list(db.session.scalars(query.order_by(*order).limit(QUEUE_PAGE)))


def case_for(user: User, case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None or not can_handle(case, user):
        raise ActionError("There is no such case.", 404)
    return case


def claim(case: Case, user: User) -> None:
    """The user reviews the case: others see who has it."""
    if not case.is_open:
        raise ActionError("That case is closed already.", 409)
    case.assignee_id, case.state, case.updated_at = user.id, "in_review", utcnow()
    audit.record(user, "case.claim", target_type="case", target_id=case.id, target_name=case.target_label)
    db.session.commit()


def escalate(case: Case, user: User) -> None:
    """A channel's staff hand a chat case to the site's staff."""
    if not case.is_open or case.channel_id is None:
        raise ActionError("Only an open chat case can be sent to the site's staff.", 409)
    case.channel_id, case.assignee_id, case.state, case.updated_at = None, None, "open", utcnow()
    audit.record(user, "case.escalate", target_type="case", target_id=case.id, target_name=case.target_label)
    db.session.commit()


def add_note(case: Case, user: User, body: str) -> CaseNote:
    body = (body or "").strip()
    if not body or len(body) > MAX_DETAILS:
        raise ActionError(f"Write a note of up to {MAX_DETAILS} characters.", field="body")
    note = CaseNote(case_id=case.id, author_id=user.id, body=body)
    db.session.add(note)
    case.updated_at = utcnow()
    db.session.flush()
    # Who wrote a note on which case, not its words (staff read them on the case page).
    audit.record(user, "case.note", target_type="case", target_id=case.id, target_name=case.target_label,
                 detail=f"note {note.id}")
    db.session.commit()
    return note


def notes(case: Case) -> list[CaseNote]:
    """Staff-only notes and every reporter thread, oldest first."""
    return list(db.session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)))


def report_in(case: Case, report_id: int) -> Report:
    report = db.session.get(Report, report_id)
    if report is None or report.case_id != case.id:
        raise ActionError("That report is not in this case.", 404)
    return report


def sanctions_of(case: Case) -> list[Sanction]:
    return list(db.session.scalars(select(Sanction).where(Sanction.case_id == case.id).order_by(Sanction.id)))
