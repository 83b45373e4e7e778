"""RQ job: build a member's data export (app.privacy.exports) and mail them its link."""
from __future__ import annotations

from app.privacy import exports
from workers.context import app_context


def build_export(export_id: int, site_url: str) -> bool:
    """Build export `export_id` into a ZIP in storage; True when it was built now. Safe to run
    twice: a ready export is left alone."""
    with app_context():
        return exports.build(export_id, site_url)
