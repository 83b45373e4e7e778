"""RQ jobs that send mail; they take a user id and the site's address, and make the link here."""
from __future__ import annotations

from app.auth import recovery
from workers.context import app_context


def send_password_reset(user_id: int, site_url: str) -> bool:
    """Mail the user a password reset link. True when a mail went out."""
    with app_context():
        return recovery.mail_password_reset(user_id, site_url)


def send_email_verification(user_id: int, site_url: str) -> bool:
    """Mail the user a link that verifies their address (nothing if it is verified)."""
    with app_context():
        return recovery.mail_email_verification(user_id, site_url)
