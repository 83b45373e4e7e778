"""RQ jobs about session lifetimes (the live sessions themselves run on live hosts, workers/live/)."""
from __future__ import annotations

from app.extensions import db
from app.models import StreamSession
from app.streams import services as streams
from workers.context import app_context


def expire_session(session_id: int) -> bool:
    """End a session whose publisher did not come back within the grace period. Safe to run twice."""
    with app_context():
        session = db.session.get(StreamSession, session_id)
        return session is not None and streams.expire_session(session)
