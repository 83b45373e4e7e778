"""The privacy settings as durations: the one place the pages, the jobs and the privacy policy
read the export link's lifetime, the export interval and the erasure grace from."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app


def export_link_lifetime() -> timedelta:
    """How long an export's link works (and its ZIP is kept) after it is ready."""
    return timedelta(days=current_app.config["DATA_EXPORT_LINK_DAYS"])


def export_interval() -> timedelta:
    """How long after asking for an export a member may ask for the next one."""
    return timedelta(days=current_app.config["DATA_EXPORT_INTERVAL_DAYS"])


def erasure_grace() -> timedelta:
    """How long a deleted account can still be restored before everything personal is purged."""
    return timedelta(days=current_app.config["ERASURE_GRACE_DAYS"])


def days(delta: timedelta) -> str:
    """'7 days', '1 day': how the pages and the privacy policy say a period."""
    whole = max(0, -(-int(delta.total_seconds()) // 86400))
    return f"{whole} day{'s' if whole != 1 else ''}"
