"""(Worker) The trust-and-safety mails: the statement of reasons, an appeal's decision, a
signed-out reporter's outcome, and each DMCA step. A suspended or terminated person cannot sign
in, so their mails carry signed, expiring links (like a password reset's): one to read a notice
and appeal it, one to send a DMCA counter-notice. Both are made and checked here."""
from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .. import mail
from ..extensions import db
from ..models import Appeal, DmcaNotice, Report, Sanction, User
from . import actions, rules, takedown

_NOTICE = "safety-notice"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_NOTICE)


def _opened(token: str) -> dict | None:
    """A link's signed payload while it is valid. Links last as long as an action can be appealed:
    a counter-notice's link as long as the copyright strike that came with it."""
    max_age = int(current_app.config["APPEAL_WINDOW_DAYS"]) * 86400
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except BadSignature:  # SignatureExpired is one
        return None
    return payload if isinstance(payload, dict) else None


def notice_token(sanction: Sanction) -> str:
    return _serializer().dumps({"s": sanction.id, "u": sanction.user_id})


def sanction_for_token(sanction_id: int, token: str) -> Sanction | None:
    """The sanction a mailed link opens, while it can still be appealed (else None)."""
    payload = _opened(token)
    sanction = db.session.get(Sanction, sanction_id) if payload is not None else None
    if sanction is None or payload is None or payload.get("s") != sanction.id \
            or payload.get("u") != sanction.user_id:
        return None
    return sanction


def counter_token(notice: DmcaNotice) -> str:
    # Its own key ("dmca"), so a notice link never opens a counter-notice or the other way round.
    return _serializer().dumps({"dmca": notice.id, "u": notice.uploader_id})


def notice_for_counter_token(notice_id: int, token: str) -> DmcaNotice | None:
    """The DMCA notice a mailed counter-notice link opens, for the uploader it was sent to (None
    once the link expired, was changed, or the uploader's account is gone)."""
    payload = _opened(token)
    notice = db.session.get(DmcaNotice, notice_id) if payload is not None else None
    if notice is None or payload is None or notice.uploader_id is None or payload.get("dmca") != notice.id \
            or payload.get("u") != notice.uploader_id:
        return None
    return notice


def counter_link(notice: DmcaNotice, base: str | None = None) -> str:
    """The counter-notice form's signed link: absolute for a mail (`base`), else a path."""
    if base is None:
        return url_for("safety.dmca_counter_by_link", notice_id=notice.id, token=counter_token(notice))
    return mail.external_url(base, "safety.dmca_counter_by_link", notice_id=notice.id,
                             token=counter_token(notice))


def send_statement_of_reasons(sanction_id: int, base: str) -> bool:
    sanction = db.session.get(Sanction, sanction_id)
    if sanction is None or sanction.user is None:
        return False
    link = mail.external_url(base, "safety.notice_by_link", sanction_id=sanction.id,
                             token=notice_token(sanction))
    message = mail.compose(sanction.user.email, f"{actions.KIND_NAMES[sanction.kind]}: why, and how to appeal",
                           "statement_of_reasons", base=base, sanction=sanction, link=link,
                           kind_name=actions.KIND_NAMES[sanction.kind], deadline=actions.appeal_deadline(sanction))
    return mail.send(message)


def send_appeal_decision(appeal_id: int, base: str) -> bool:
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or appeal.user is None:
        return False
    sanction = appeal.sanction
    link = mail.external_url(base, "safety.notice_by_link", sanction_id=sanction.id,
                             token=notice_token(sanction))
    message = mail.compose(appeal.user.email, f"Your appeal was {appeal.state}", "appeal_decision", base=base,
                           appeal=appeal, kind_name=actions.KIND_NAMES[sanction.kind], link=link)
    return mail.send(message)


def send_report_outcome(report_id: int, base: str) -> bool:
    report = db.session.get(Report, report_id)
    if report is None or not report.contact_email or report.case.is_open:
        return False
    message = mail.compose(report.contact_email, "What we did about your notice", "report_outcome", base=base,
                           report=report, reason=rules.reason_text(report.reason))
    return mail.send(message)


# What each DMCA step mails, and to whom: (recipient, subject).
_DMCA_MAILS = {
    "receipt": (("claimant", "Your copyright notice was received"),
                ("uploader", "A copyright notice disabled your video: how to send a counter-notice")),
    "counter": (("claimant", "A counter-notice to your copyright notice"),
                ("uploader", "Your counter-notice was received")),
    "retracted": (("uploader", "A copyright notice against your video was retracted"),),
    "lawsuit": (("uploader", "The claimant reported a lawsuit: your video stays disabled"),),
    "restored": (("uploader", "Your video is back"), ("claimant", "A video you reported is back")),
}


def send_dmca_mail(notice_id: int, kind: str, base: str) -> int:
    """Mail a DMCA step to whoever it concerns; how many mails went out."""
    notice = db.session.get(DmcaNotice, notice_id)
    if notice is None or kind not in _DMCA_MAILS:
        return 0
    uploader = db.session.get(User, notice.uploader_id) if notice.uploader_id else None
    sent = 0
    for recipient, subject in _DMCA_MAILS[kind]:
        address = notice.claimant_email if recipient == "claimant" else (uploader.email if uploader else None)
        if not address:
            continue
        message = mail.compose(address, subject, "dmca", base=base, notice=notice, kind=kind, recipient=recipient,
                               claimant_link=takedown.claimant_link(notice, base),
                               counter_link=counter_link(notice, base),
                               counter_until=actions.appeal_deadline(notice.strike) if notice.strike else None)
        sent += mail.send(message)
    return sent
