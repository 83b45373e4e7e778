"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests to read."""
from __future__ import annotations

import contextlib
import email
import email.policy
import re
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.ports import free_port

LINK_RE = re.compile(r"https?://\S+")


class Mailbox:
    """Every mail the server accepted, parsed, in order of arrival."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("mailer", "smtp-secret-pass"))

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def link(message: EmailMessage) -> str:
        links = LINK_RE.findall(message.get_content())
        assert len(links) >= 1, message.get_content()
        return links[0]


@contextlib.contextmanager
def running_smtp():
    """(host, port, mailbox) of a plain SMTP server on loopback that accepts AUTH PLAIN/LOGIN
    without TLS (only on loopback, only for tests), stopped afterwards."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=mailbox.authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield controller.hostname, controller.port, mailbox
    finally:
        controller.stop()
