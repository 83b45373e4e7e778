"""Getting back into an account and proving an address: password reset, one-time sign-in links
and email verification.

The web side queues mail jobs by user id (app.mail); the worker makes the link, so a link's
token is never in Redis, a job's arguments or a log line."""
from __future__ import annotations

import logging

from sqlalchemy import select

from .. import mail
from ..extensions import db
from ..models import User, utcnow
from . import limits, services, sessions, tokens

log = logging.getLogger(__name__)


def request_password_reset(email: str, base: str) -> None:
    """Mail a reset link to the account using `email`, if there is one. The caller answers the
    same either way, so the form tells nobody which addresses have accounts."""
    try:
        email = services.normalize_email(email)
    except services.AccountError:
        return
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or user.disabled:
        log.info("password reset asked for an address without an active account")
        return
    log.info("password reset asked for user %s", user.id)
    mail.queue("send_password_reset", user.id, base)


def mail_password_reset(user_id: int, base: str) -> bool:
    """(Worker) Send user `user_id` a fresh reset link. Safe to run twice: two links, both good."""
    user = db.session.get(User, user_id)
    if user is None or user.disabled:
        return False
    link = mail.external_url(base, "auth.reset_link", token=tokens.reset_token(user))
    message = mail.compose(user.email, "Reset your password", "password_reset", base=base, user=user,
                           link=link, hours=int(tokens.RESET_MAX_AGE.total_seconds() // 3600))
    return mail.send(message)


def reset_password(user: User, new_password: str) -> None:
    """Set a new password from a reset link: the signup rules apply, every login of the account
    ends (whoever had the old password is out), and the link, which fingerprints the old
    password, stops working. Following the mailed link also proved the address."""
    if problem := services.password_problem(new_password, user.username, user.email):
        raise services.AccountError("password", problem)
    user.password_hash = services.hash_password(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    db.session.execute(sessions.ending_all(user))
    db.session.commit()
    log.info("password of user %s reset by mailed link", user.id)


def offer_login_link(login: str, password: str, base: str) -> None:
    """Past the per-account login limit, on a browser the account does not know: mail the owner
    a one-time sign-in link if `password` is right and the account has a verified address. The
    caller answers the same either way, and the password is checked either way (a missing
    account costs a hash too, in services.authenticate), so neither the page nor its timing
    tells a guesser whether the password was right."""
    user = services.authenticate(login, password)
    if user is None:
        return
    if user.disabled or user.erasure_pending or not user.email_verified:
        log.info("no sign-in link for user %s: no verified address or not an active account", user.id)
        return
    if not limits.may_mail_login_link(user):
        log.info("no sign-in link for user %s: several were mailed lately", user.id)
        return
    log.info("sign-in link asked for user %s past the per-account login limit", user.id)
    mail.queue("send_login_link", user.id, base)


def mail_login_link(user_id: int, base: str) -> bool:
    """(Worker) Send user `user_id` a fresh one-time sign-in link, to a verified address only."""
    user = db.session.get(User, user_id)
    if user is None or user.disabled or not user.email_verified:
        return False
    link = mail.external_url(base, "auth.login_link", token=tokens.login_link_token(user))
    message = mail.compose(user.email, "Your sign-in link", "login_link", base=base, user=user, link=link,
                           minutes=int(tokens.LOGIN_LINK_MAX_AGE.total_seconds() // 60))
    return mail.send(message)


def send_verification(user: User, base: str) -> bool:
    """Queue a mail with a link that verifies the user's current address."""
    return mail.queue("send_email_verification", user.id, base)


def mail_email_verification(user_id: int, base: str) -> bool:
    """(Worker) Send user `user_id` a verification link for their address, unless it is verified."""
    user = db.session.get(User, user_id)
    if user is None or user.disabled or user.email_verified:
        return False
    link = mail.external_url(base, "auth.verify_email", token=tokens.verify_token(user))
    message = mail.compose(user.email, "Confirm your email address", "verify_email", base=base,
                           user=user, link=link, days=tokens.VERIFY_MAX_AGE.days)
    return mail.send(message)


def mark_verified(user: User) -> bool:
    """Record that the owner proved their address; False when it already was."""
    if user.email_verified:
        return False
    user.email_verified_at = utcnow()
    db.session.commit()
    return True
