"""Completes the master playlist ffmpeg 5.1's hls muxer writes (it omits FRAME-RATE), atomically.

ffmpeg's lines stay as it wrote them, attributes in its order; the attributes added go at the end of
each EXT-X-STREAM-INF, formatted as app.media.playlist formats them (a re-render through its
`Variant` would reorder ffmpeg's attributes)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..storage.atomic import write_atomic
from .ladder import Rung
from .playlist import attributes, frame_rate, parse_master, quoted

_STREAM_INF = "#EXT-X-STREAM-INF:"


def avc_codec(rung: Rung) -> str:
    """An RFC 6381 string for High profile at the level this size and rate need."""
    mbps = (rung.width / 16) * (rung.height / 16) * rung.fps  # macroblocks per second
    for limit, level in ((40500, 0x1E), (108000, 0x1F), (216000, 0x20), (245760, 0x28),
                         (522240, 0x2A), (589824, 0x32)):
        if mbps <= limit:
            return f"avc1.6400{level:02x}"
    return "avc1.640033"


def complete_master(text: str, rungs: Sequence[Rung], has_audio: bool = True, *,
                    closed_captions: bool = False) -> str:
    """`text` with FRAME-RATE (and CODECS, if missing) on every variant, and CLOSED-CAPTIONS=NONE
    when the source has no captions (see app.media.llladder.live_master_playlist); other lines untouched."""
    by_uri = {f"{r.name}/index.m3u8": r for r in rungs}
    lines = text.splitlines()
    out = []
    for index, line in enumerate(lines):
        if line.startswith(_STREAM_INF):
            uri = next((after.strip() for after in lines[index + 1:] if after.strip() and not after.startswith("#")),
                       "")
            rung = by_uri.get(uri)
            if rung is not None:
                present = attributes(line)
                if "FRAME-RATE" not in present:
                    line += f",FRAME-RATE={frame_rate(rung.fps)}"
                if "CODECS" not in present:
                    line += ",CODECS=" + quoted(avc_codec(rung) + (",mp4a.40.2" if has_audio else ""))
                if not closed_captions and "CLOSED-CAPTIONS" not in present:
                    line += ",CLOSED-CAPTIONS=NONE"
        out.append(line)
    return "\n".join(out) + "\n"


def master_is_complete(text: str, rungs: Sequence[Rung]) -> bool:
    variants = parse_master(text).variants
    return len(variants) == len(rungs) and all(
        variant.bandwidth and variant.resolution and variant.codecs and variant.frame_rate for variant in variants)


def fix_master_playlist(path: Path, rungs: Sequence[Rung], has_audio: bool = True,
                        target: Path | None = None, *, closed_captions: bool = False) -> bool:
    """Write `path`'s master with the missing attributes to `target` (default: in place).

    True once the complete master is in place. ffmpeg writes its master once per run, so the
    worker calls this until it returns True; a master that does not list every rung yet
    (still being written) is left alone.
    """
    target = target or path
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False
    if len(re.findall(r"^#EXT-X-STREAM-INF:", text, flags=re.M)) != len(rungs):
        return False
    completed = complete_master(text, rungs, has_audio, closed_captions=closed_captions)
    if completed == text and target == path:
        return True
    write_atomic(target, completed.encode())
    return True
