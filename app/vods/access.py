"""Who may see a VOD and its objects: the owner and admins always, everyone once it is published."""
from __future__ import annotations

from . import bp  # noqa: F401
