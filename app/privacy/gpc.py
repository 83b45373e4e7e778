"""Global Privacy Control (the `Sec-GPC: 1` request header): the site sells and shares nothing, so
there is nothing to switch off; a signed-in member's signal is recorded as their opt-out of the
sale and sharing of personal data (CCPA/CPRA), and shown on their privacy page."""
from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import User, utcnow

log = logging.getLogger(__name__)

HEADER = "Sec-GPC"


def signalled(headers) -> bool:
    """True when a request carries the signal (the specification's only valid value is "1")."""
    return (headers.get(HEADER) or "").strip() == "1"


def record_opt_out(user: User) -> bool:
    """Note the member's opt-out the first time one of their requests carries the signal; later
    ones change nothing. True when it was recorded now."""
    if user.gpc_opt_out_at is not None:
        return False
    # Committed on its own, only when this request has nothing else pending (as a login's
    # last-seen time is): a page's own changes are never committed early by this.
    session = db.session
    if session.new or session.dirty or session.deleted:
        return False
    now = utcnow()
    try:
        session.execute(update(User).where(User.id == user.id, User.gpc_opt_out_at.is_(None))
                        .values(gpc_opt_out_at=now))
        session.commit()
    except SQLAlchemyError as error:  # the next signalled request records it
        session.rollback()
        log.info("could not record the GPC opt-out of user %s: %s", user.id, error)
        return False
    user.gpc_opt_out_at = now
    return True
