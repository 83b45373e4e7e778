"""How long the trust-and-safety records keep personal data once they are settled: the one place
the hourly retention run (workers/retention.py) prunes them and the privacy policy reads the period
from (`keep_for`, {safety_records} in app/legal/defaults/privacy.md).

The records themselves stay: a case, its reports' reasons and words, the actions and appeals are
the site's history of what it decided and why (and the audit log, app.safety.audit, is never
pruned). What goes once they are settled is what was kept only to decide or to answer:
- the evidence copied with each report (the chat lines around a message, with other people's
  names and words, or the reported profile) and a signed-out sender's contact e-mail, when the
  case was decided that long ago and no appeal of an action on it is pending;
- a DMCA notice's contact details (the claimant's address, phone and e-mail; the counter-notifier's
  name, address, phone and sworn statement), when the notice closed that long ago. A notice
  still open (the video disabled, or a claimant's lawsuit pending) keeps them: the counter-notice
  and the lawsuit are answered with them.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Appeal, Case, DmcaNotice, Report, Sanction, utcnow
from ..models.safety import OPEN_STATES

log = logging.getLogger(__name__)


def keep_for() -> timedelta:
    """How long a settled record keeps its personal data: SAFETY_RECORD_DAYS, but never less than
    the appeal window, so the evidence is there for any appeal an action may still get."""
    config = current_app.config
    return timedelta(days=max(int(config["SAFETY_RECORD_DAYS"]), int(config["APPEAL_WINDOW_DAYS"])))


def prune_safety_records(now: datetime | None = None) -> dict[str, int]:
    """(Hourly) Empty the evidence and contact e-mails of reports on cases decided more than
    `keep_for()` ago, and the contact details of DMCA notices closed that long ago. Safe to run
    twice: pruned rows are not matched again. Returns how many rows of each were pruned."""
    cutoff = (now or utcnow()) - keep_for()
    appealing = select(Sanction.case_id).join(Appeal, Appeal.sanction_id == Sanction.id).where(
        Appeal.state == "pending", Sanction.case_id.is_not(None))
    reports = 0
    for report in db.session.scalars(select(Report).join(Case, Report.case_id == Case.id).where(
            Case.state.not_in(OPEN_STATES), Case.decided_at <= cutoff, Case.id.not_in(appealing))):
        if report.evidence or report.contact_email:
            report.evidence, report.contact_email = {}, None
            reports += 1
    notices = 0
    for notice in db.session.scalars(select(DmcaNotice).where(DmcaNotice.closed_at <= cutoff)):
        if notice.claimant_email or notice.claimant_address or notice.claimant_phone or notice.counter_name \
                or notice.counter_address or notice.counter_phone or notice.counter_statement:
            notice.claimant_address = notice.claimant_phone = notice.claimant_email = ""
            notice.counter_name = notice.counter_address = notice.counter_phone = None
            notice.counter_statement = None
            notices += 1
    db.session.commit()
    if reports or notices:
        log.info("safety records pruned: %d reports, %d DMCA notices", reports, notices)
    return {"reports_pruned": reports, "dmca_notices_pruned": notices}
