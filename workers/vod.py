"""RQ job: assemble a finished session's recording into a VOD (built in issue 7)."""
from __future__ import annotations


def build_vod(session_id: int) -> int | None:
    raise NotImplementedError("being written")
