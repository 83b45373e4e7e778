"""Children that do not outlive the process that started them."""
from __future__ import annotations

import signal


def die_with_parent() -> None:
    """In a child (before exec, or right after a fork): SIGKILL it when its parent dies. An ffmpeg
    of a killed job, or the scheduler and work horse of a killed RQ worker, would otherwise run
    on as an orphan: writing the same playlists as its replacement, or holding the scheduler's
    lock and supervisord's output pipe while nothing supervises it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
