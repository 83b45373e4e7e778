"""Where a killed live host's output ended, in the source's own time, so that the host adopting its
spooling relay (workers.relay.PullRelay.adopt) encodes from exactly there: nothing lost, nothing
twice.

Each run notes its origin (the source time its output's zero stands for) in the session's work
directory when its relay starts feeding it; the newest part on disk says how far its output got.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from app.media.ffmpeg_args import PLAYLIST_NAME
from app.media.fmp4 import Fragment, FragmentStream
from app.media.playlist import parse_media
from app.storage.atomic import write_atomic

log = logging.getLogger(__name__)

ORIGIN_FILE = "origin.json"


def write_origin(work: Path, origin: float) -> None:
    """Note that the run starting now has its output's time zero at source time `origin`
    (0 for a run that keeps the source's timestamps)."""
    write_atomic(work / ORIGIN_FILE, json.dumps({"origin": origin}).encode())


def part_end(rendition: Path) -> tuple[float, float] | None:
    """(the end of the newest listed part in its run's output time, when that run's init segment
    was written) for one LL-HLS rendition directory, None if it has no part."""
    try:
        listed = parse_media((rendition / PLAYLIST_NAME).read_text()).segments
    except OSError:
        return None
    newest = next((segment for segment in reversed(listed) if segment.parts), None)
    if newest is None or not newest.map:
        return None
    init_path, part = rendition / newest.map, newest.parts[-1].uri
    try:
        written = init_path.stat().st_mtime
        stream = FragmentStream()
        items = stream.feed(init_path.read_bytes() + (rendition / part).read_bytes())
    except (OSError, ValueError):
        return None
    fragments = [item for item in items if isinstance(item, Fragment)]
    if not fragments:
        return None
    return fragments[-1].start + fragments[-1].duration, written


def resume_point(out: Path, work: Path) -> float | None:
    """The source time a killed host's output reached: its run's origin plus the end of the
    newest part of any rendition. None when unknown (no run noted, no part, or the newest parts
    belong to an earlier run than the one noted)."""
    try:
        origin_file = work / ORIGIN_FILE
        noted = origin_file.stat().st_mtime
        origin = float(json.loads(origin_file.read_text())["origin"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ends = [found for rendition in sorted(out.iterdir()) if rendition.is_dir()
            and (found := part_end(rendition)) is not None] if out.is_dir() else []
    # The run noted last wrote its init segment after it was noted; an older init means that
    # run never got as far as a part, and these parts' zero is another run's.
    since_noted = [end for end, written in ends if written >= noted - 0.001]
    if not since_noted:
        return None
    return origin + max(since_noted)
