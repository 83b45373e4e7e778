"""Evidence kept from deletion: the one rule for what may not be deleted yet, asked by both the
retention job (app.vods.retention) and the owner's delete button (app.vods.services.delete_vod).

A VOD is held while
- a case about it is open (reported, not decided yet);
- an action about it has an appeal waiting for a decision;
- staff removed it (quarantined: disabled, restorable) and that removal can still be appealed;
- a DMCA notice about it is not closed (disabled, counter-noticed, or in court).
A broadcast a channel report named (its live moment) is held, both its VOD and its live
recording, while that case is open or an appeal of the action taken on it is pending.

Without the hold, deleting the video would destroy the evidence the decision or the appeal is
about, and make a quarantined video's "restorable" moot. Open cases, pending appeals, open
notices and removals still in their appeal window are few, so they are read in full.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from ..extensions import db
from ..models import VOD, Appeal, Case, DmcaNotice, Report, Sanction, utcnow
from ..models.safety import OPEN_STATES

# DMCA notices that still decide what happens to the video; restored and retracted ones are done.
OPEN_DMCA_STATES = ("disabled", "counter_noticed", "lawsuit")

# What the owner is told, finishing "This video can't be deleted yet: ...". Never who reported.
REPORTED = "someone reported it and the report is still being reviewed. It is kept until the case is decided."
APPEALED = "an appeal about it is waiting for a decision. It is kept until the appeal is decided."
REMOVED = ("moderators removed it and that decision can still be appealed. It is kept until the time "
           "to appeal has passed, so it can be restored.")
COPYRIGHT = ("a copyright (DMCA) notice about it is not closed yet. It is kept until the notice is "
             "settled by a counter-notice's restore, a retraction or the end of a lawsuit.")
BROADCAST = ("it recorded a broadcast someone reported, and that report (or an appeal of its outcome) "
             "is still pending. It is kept until that is decided.")


def _appealable_since():
    """Actions taken after this can still be appealed (the window app.safety.actions.appeal_deadline
    counts from an action's creation)."""
    return utcnow() - timedelta(days=int(current_app.config["APPEAL_WINDOW_DAYS"]))


def held_session_ids() -> dict[int, str]:
    """Stream sessions whose recordings are evidence for a channel report: {session id: reason}."""
    pending_appeal = select(Sanction.case_id).join(Appeal, Appeal.sanction_id == Sanction.id).where(
        Appeal.state == "pending", Sanction.case_id.is_not(None))
    evidence = db.session.scalars(select(Report.evidence).join(Case, Report.case_id == Case.id).where(
        Case.target_type == "channel", or_(Case.state.in_(OPEN_STATES), Case.id.in_(pending_appeal))))
    sessions = {each.get("session_id") for each in evidence if isinstance(each, dict)}
    return {session_id: BROADCAST for session_id in sessions if isinstance(session_id, int)}


def vod_holds() -> dict[int, str]:
    """Every VOD that must be kept for now, with why (the first reason found)."""
    held: dict[int, str] = {}

    def keep(vod_ids: Iterable[int | None], reason: str) -> None:
        for vod_id in vod_ids:
            if vod_id is not None:
                held.setdefault(vod_id, reason)

    keep(db.session.scalars(select(Case.target_id).where(
        Case.target_type == "vod", Case.state.in_(OPEN_STATES))), REPORTED)
    keep(db.session.scalars(select(DmcaNotice.vod_id).where(DmcaNotice.state.in_(OPEN_DMCA_STATES))), COPYRIGHT)
    keep(db.session.scalars(select(Sanction.content_id).join(Appeal, Appeal.sanction_id == Sanction.id).where(
        Sanction.content_type == "vod", Appeal.state == "pending")), APPEALED)
    # A removal no one has appealed yet, still inside its window (an appealed one is held above
    # while pending; a rejected appeal or a reversal ends the hold).
    keep(db.session.scalars(select(Sanction.content_id).outerjoin(Appeal, Appeal.sanction_id == Sanction.id).where(
        Sanction.kind == "remove", Sanction.content_type == "vod", Sanction.reversed_at.is_(None),
        Sanction.created_at >= _appealable_since(), Appeal.id.is_(None))), REMOVED)
    sessions = held_session_ids()
    if sessions:
        keep(db.session.scalars(select(VOD.id).where(VOD.session_id.in_(sessions))), BROADCAST)
    return held


def held_vod_ids() -> set[int]:
    """VODs retention must keep for now."""
    return set(vod_holds())


def hold_on(vod: VOD) -> str | None:
    """Why `vod` may not be deleted now, or None when it may."""
    return vod_holds().get(vod.id)
