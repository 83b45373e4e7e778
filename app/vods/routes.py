"""VOD pages: the creator's manager, a channel's videos, the watch page and its chat replay."""
from __future__ import annotations

from . import bp  # noqa: F401
