"""A server-side record of each login, so a session or a remember-me cookie can be ended."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

USER_AGENT_LENGTH = 200


def hash_session_token(token: str) -> str:
    """Only the token's hash is stored: a copy of the table logs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


class LoginSession(Model):
    """One login: its token (hashed) is in that browser's session cookie and remember cookie.
    Deleting the row ends both."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_LENGTH), default="", server_default="")

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"
