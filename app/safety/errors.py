"""The one refusal the trust-and-safety services raise: a message for the person, the HTTP status
a page answers with, and the form field it belongs to (None: the form as a whole)."""
from __future__ import annotations


class SafetyError(Exception):
    def __init__(self, message: str, status: int = 400, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
