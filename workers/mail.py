"""RQ jobs that send mail; they take a user id and the site's address, and make the link here."""
from __future__ import annotations

from app.auth import recovery
from app.safety import mails as safety_mails
from workers.context import app_context


def send_password_reset(user_id: int, site_url: str) -> bool:
    """Mail the user a password reset link. True when a mail went out."""
    with app_context():
        return recovery.mail_password_reset(user_id, site_url)


def send_email_verification(user_id: int, site_url: str) -> bool:
    """Mail the user a link that verifies their address (nothing if it is verified)."""
    with app_context():
        return recovery.mail_email_verification(user_id, site_url)


def send_login_link(user_id: int, site_url: str) -> bool:
    """Mail the owner a one-time sign-in link (asked for past the per-account login limit)."""
    with app_context():
        return recovery.mail_login_link(user_id, site_url)


def send_statement_of_reasons(sanction_id: int, site_url: str) -> bool:
    """Mail the person an action was taken against what, why, and how to appeal."""
    with app_context():
        return safety_mails.send_statement_of_reasons(sanction_id, site_url)


def send_appeal_decision(appeal_id: int, site_url: str) -> bool:
    with app_context():
        return safety_mails.send_appeal_decision(appeal_id, site_url)


def send_report_outcome(report_id: int, site_url: str) -> bool:
    """Tell a signed-out notice's sender what was done (members read it on their reports page)."""
    with app_context():
        return safety_mails.send_report_outcome(report_id, site_url)


def send_export_ready(export_id: int, site_url: str) -> bool:
    """Mail the member the link to their data export (app.privacy.exports)."""
    from app.privacy import exports

    with app_context():
        return exports.mail_ready(export_id, site_url)


def send_erasure_scheduled(user_id: int, site_url: str) -> bool:
    """Mail the member when their account will be purged and how to keep it (app.auth.deletion)."""
    from app.auth import deletion

    with app_context():
        return deletion.mail_erasure_scheduled(user_id, site_url)


def send_dmca_mail(notice_id: int, kind: str, site_url: str) -> int:
    """Mail a step of a copyright notice (receipt, counter-notice, retraction, lawsuit, restore)."""
    with app_context():
        return safety_mails.send_dmca_mail(notice_id, kind, site_url)


def send_reporter_update(report_id: int, kind: str, site_url: str) -> bool:
    """Tell a member who reported something its outcome, or that staff wrote (app.safety.outcomes)."""
    from app.safety import outcomes

    with app_context():
        return outcomes.send_reporter_update(report_id, kind, site_url)
