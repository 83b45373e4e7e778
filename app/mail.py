"""Outgoing mail: the web side queues a job by user id; the worker renders the mail and sends it
over SMTP (the standard library's smtplib), so a slow or absent mail server never holds a request."""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from redis.exceptions import RedisError
from rq import Retry

from .jobs import enqueue

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The mail server refused the mail or could not be reached (the job fails and is kept)."""


def configured() -> bool:
    return bool(current_app.config["MAIL_SERVER"])


def site_url() -> str:
    """The address links in mails start with: MAIL_SITE_URL, else the one this request came in on."""
    configured_url = current_app.config["MAIL_SITE_URL"]
    if configured_url or not has_request_context():
        return configured_url
    return request.host_url.rstrip("/")


def external_url(base: str, endpoint: str, **values) -> str:
    """An absolute URL of `endpoint` under `base` (the worker has no request to take a host from)."""
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(parts.netloc or "localhost", script_name=parts.path or "/",
                                       url_scheme=parts.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


# An SMTP server that is away (restarting, refusing for a while) costs a mail a delay, not the
# mail: a failed send is tried again after these many seconds, within a reset link's hour.
SEND_RETRY_SECONDS = [10, 30, 60, 300, 900]


def queue(job: str, *args) -> bool:
    """Queue `workers.mail.<job>(*args)`; args are ids and plain values, never a link's token.
    False (logged) when Redis is away: the page still answers, the mail is not sent."""
    try:
        enqueue(f"workers.mail.{job}", *args, job_timeout=120,
                retry=Retry(max=len(SEND_RETRY_SECONDS), interval=SEND_RETRY_SECONDS))
    except RedisError as error:
        log.error("could not queue mail job %s: %s", job, type(error).__name__)
        return False
    return True


def sender(base: str) -> str:
    config = current_app.config
    if config["MAIL_DEFAULT_SENDER"]:
        return config["MAIL_DEFAULT_SENDER"]
    return formataddr((config["SITE_NAME"], f"no-reply@{urlsplit(base).hostname or 'localhost'}"))


def compose(to: str, subject: str, template: str, *, base: str, **context) -> EmailMessage:
    """A plain-text mail from `mail/<template>.txt` (the site name and `base` are in its context)."""
    message = EmailMessage()
    message["From"] = sender(base)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=urlsplit(base).hostname or None)
    message["Auto-Submitted"] = "auto-generated"
    # The template alone, without the pages' context processors: a job has no request.
    body = current_app.jinja_env.get_template(f"mail/{template}.txt").render(site_url=base, **context)
    message.set_content(body)
    return message


def send(message: EmailMessage) -> bool:
    """Hand `message` to the mail server; False when mail is not configured or suppressed."""
    config = current_app.config
    if not configured():
        # The body holds a link that logs the reader in: only the subject is logged.
        log.warning("mail is not configured (MAIL_SERVER is empty): %r was not sent. Set MAIL_SERVER "
                    "and friends in .env (README, Settings) to send mail.", message["Subject"])
        return False
    if config["MAIL_SUPPRESS"]:
        log.info("MAIL_SUPPRESS is on: %r was not sent", message["Subject"])
        return False
    use_ssl, use_tls = config["MAIL_USE_SSL"], config["MAIL_USE_TLS"]
    port = config["MAIL_PORT"] or (465 if use_ssl else 587 if use_tls else 25)
    timeout = config["MAIL_TIMEOUT"]
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if use_ssl:
            smtp = smtplib.SMTP_SSL(config["MAIL_SERVER"], port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(config["MAIL_SERVER"], port, timeout=timeout)
        with smtp:
            if use_tls and not use_ssl:
                smtp.starttls(context=context)
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        # The exception's text may quote the server's reply, never our password or the body.
        raise MailError(f"could not send {message['Subject']!r} through "
                        f"{config['MAIL_SERVER']}:{port}: {type(error).__name__}") from error
    log.info("sent %r", message["Subject"])
    return True
