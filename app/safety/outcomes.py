"""Reporters hear back: when their case is decided (actioned or dismissed) and when staff write
to them in the report's thread, a member gets a notification (the bell, pushed to open pages) and,
with a verified address, an e-mail. Signed-out notice senders are mailed by app.safety.mails.

What a reporter is told is the case's outcome in the reporter's words (actions.OUTCOMES), never
who decided or what the other party was told; and nothing here ever reaches the reported person.
"""
from __future__ import annotations

from flask import current_app, has_request_context, render_template

from .. import mail
from ..extensions import db, socketio
from ..follow import services as follow
from ..models import Notification, Report, User
from ..models.notification import KIND_REPORT_DECIDED, KIND_REPORT_REPLY
from . import rules

# What each notification and mail says, by kind: (notification line, mail subject).
WORDS = {KIND_REPORT_DECIDED: ("Your report was reviewed", "We reviewed your report"),
         KIND_REPORT_REPLY: ("Staff wrote to you about your report", "A message about your report")}
MAIL_JOB = "send_reporter_update"


def case_decided(case) -> None:
    """Tell every member who reported the case its outcome (after the commit that decided it)."""
    for report in case.reports:
        _tell(report, KIND_REPORT_DECIDED)


def staff_replied(report: Report) -> None:
    """Tell the member who filed `report` that staff wrote to them (after the reply's commit)."""
    _tell(report, KIND_REPORT_REPLY)


def _tell(report: Report, kind: str) -> None:
    reporter = db.session.get(User, report.reporter_id) if report.reporter_id else None
    if reporter is None or reporter.disabled:
        return
    if reporter.channel is not None:
        db.session.add(Notification(user_id=reporter.id, channel_id=reporter.channel.id, kind=kind))
        db.session.commit()
        _push(reporter, kind)
    if reporter.email_verified:
        mail.queue(MAIL_JOB, report.id, kind, mail.site_url())


def _push(reporter: User, kind: str) -> None:
    """The bell's new count and a toast to the reporter's open pages (notifications.js shows it)."""
    if has_request_context():
        toast = render_template("notifications/_report_toast.html", text=WORDS[kind][0])
    else:  # a job or the console: borrow a blank request for url_for (the links are site-relative)
        with current_app.test_request_context("/"):
            toast = render_template("notifications/_report_toast.html", text=WORDS[kind][0])
    socketio.emit("notification", {"unread": follow.unread_count(reporter.id), "html": toast},
                  namespace=follow.NAMESPACE, to=follow.user_room(reporter.id))


def send_reporter_update(report_id: int, kind: str, base: str) -> bool:
    """(Worker) Mail the reporter the outcome, or that staff wrote; False when there is nothing to
    send (the reporter gone, unverified, the case reopened...)."""
    report = db.session.get(Report, report_id)
    reporter = db.session.get(User, report.reporter_id) if report and report.reporter_id else None
    if report is None or reporter is None or not reporter.email_verified or kind not in WORDS:
        return False
    if kind == KIND_REPORT_DECIDED and report.case.is_open:
        return False
    link = mail.external_url(base, "safety.my_report", report_id=report.id)
    message = mail.compose(reporter.email, WORDS[kind][1], f"reporter_{kind}", base=base, report=report,
                           reason=rules.reason_text(report.reason), link=link)
    return mail.send(message)
