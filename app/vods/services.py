"""VOD rules used by routes, the API, the VOD job and retention: one place for each."""
from __future__ import annotations

import logging

from ..extensions import db
from ..media.storage import get_storage
from ..models import VOD

log = logging.getLogger(__name__)


def delete_vod(vod: VOD) -> int:
    """Delete a VOD's objects, then its row. Returns the number of objects deleted.

    Objects go first: if storage fails, the row (and the creator's delete button) stays, and a
    second try finishes the job; a row-less leftover would only be found by the orphan sweep.
    """
    count = get_storage().delete_prefix(vod.storage_prefix) if vod.storage_prefix else 0
    log.info("vod %s (channel %s): deleted with %d objects", vod.id, vod.channel_id, count)
    db.session.delete(vod)
    db.session.commit()
    return count
