"""RQ jobs about followers: telling them a channel they follow went live."""
from __future__ import annotations

from app.follow import services as follow
from workers.context import app_context


def notify_followers(session_id: int) -> int:
    """Notify the followers of a new session's channel. Safe to run twice."""
    with app_context():
        return follow.notify_followers(session_id)
