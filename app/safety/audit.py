"""The audit log: one line per staff decision, written in the same transaction as the decision.

Lines are only ever added; there is no route or function that changes or removes one. Names are
copied in, so a line still reads after its actor or target has been purged.
"""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEntry

CONSOLE = "console (operator)"  # the actor of `flask safety` commands
PAGE = 100


def record(actor, action: str, *, target_type: str = "", target_id: int | None = None,
           target_name: str = "", detail: str = "") -> AuditEntry:
    """Add a line (the caller commits). `actor` None is the operator at the console."""
    entry = AuditEntry(actor_id=getattr(actor, "id", None),
                       actor_name=actor.username if actor is not None else CONSOLE,
                       action=action, target_type=target_type, target_id=target_id,
                       target_name=target_name[:200], detail=detail)
    db.session.add(entry)
    return entry


def lines(before: int | None = None, limit: int = PAGE) -> list[AuditEntry]:
    """The newest lines first, a page at a time (`before` an id from the previous page)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(db.session.scalars(query))
