"""Reads LL-HLS media playlists (last part, durations, server control) and writes their delta updates.

Pure functions over playlist text, for the blocking-reload endpoint: no files, no Flask.
Tag rules follow draft-pantos-hls-rfc8216bis §4.4 (tags), §6.2.5.1 (delta updates) and
§6.2.5.2 (blocking reload).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SKIP_VERSION = 9  # EXT-X-SKIP needs EXT-X-VERSION 9 or higher (§4.4.5.2)

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')

# Tags that describe the playlist as a whole (§4.4.3) or its live edge (§4.4.5). Every other
# tag belongs to the Media Segment that follows it (§4.4.4), which is what a delta update drops.
_PLAYLIST_TAGS = (
    "#EXTM3U", "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-ENDLIST", "#EXT-X-PLAYLIST-TYPE",
    "#EXT-X-I-FRAMES-ONLY", "#EXT-X-PART-INF", "#EXT-X-SERVER-CONTROL", "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-START", "#EXT-X-DEFINE", "#EXT-X-SKIP", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT",
)
# Segment tags that apply to every later segment too: a delta update must not lose the last
# one before the first segment it keeps, or that segment would lose its init section or key.
_CARRIED_TAGS = ("#EXT-X-MAP", "#EXT-X-KEY", "#EXT-X-BITRATE")


@dataclass(frozen=True)
class PlaylistState:
    """Where a media playlist's live edge is, and what its server offers."""

    media_sequence: int
    segments: int  # complete Media Segments (EXTINF lines)
    last_msn: int  # the newest segment listed, complete or still growing parts (-1 when empty)
    last_part: int | None  # index of that segment's newest part; None when listed without parts
    target_duration: float | None
    part_target: float | None
    can_skip_until: float | None
    can_block_reload: bool
    ended: bool
    preload_hint: str | None  # URI of the EXT-X-PRELOAD-HINT of TYPE=PART

    @property
    def last_complete_msn(self) -> int:
        return self.media_sequence + self.segments - 1

    def has(self, msn: int, part: int | None = None) -> bool:
        """Whether the playlist already answers `_HLS_msn=msn[&_HLS_part=part]` (§6.2.5.2).

        Without a part the segment itself must be complete; with one, that part or any later
        part (or segment) must be listed. A part index past the end of a completed segment
        is only satisfied by the next segment's first part.
        """
        if part is None:
            return msn <= self.last_complete_msn
        if msn != self.last_msn:
            return msn < self.last_msn
        return self.last_part is None or part <= self.last_part

    def too_far_ahead(self, msn: int) -> bool:
        """§6.2.5.2: an _HLS_msn more than two past the last segment gets 400 at once."""
        return msn > self.last_msn + 2


def attributes(line: str) -> dict[str, str]:
    """The attribute list of a tag line, quoted strings unquoted."""
    _, _, rest = line.partition(":")
    return {key: value[1:-1] if value.startswith('"') else value
            for key, value in _ATTRIBUTE.findall(rest)}


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _extinf_duration(line: str) -> float:
    return _number(line[len("#EXTINF:"):].split(",", 1)[0].strip()) or 0.0


def parse_media_playlist(text: str) -> PlaylistState:
    """The live edge and server-control values of a media playlist's text."""
    media_sequence = 0
    segments = 0
    parts_pending = 0  # EXT-X-PART lines since the last segment URI
    parts_of_last = 0  # parts listed for the last complete segment
    target = part_target = skip_until = None
    block_reload = ended = False
    hint = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            media_sequence = int(_number(line.split(":", 1)[1]) or 0)
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = _number(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART-INF:"):
            part_target = _number(attributes(line).get("PART-TARGET"))
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            control = attributes(line)
            skip_until = _number(control.get("CAN-SKIP-UNTIL"))
            block_reload = control.get("CAN-BLOCK-RELOAD") == "YES"
        elif line.startswith("#EXT-X-PART:"):
            parts_pending += 1
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            hinted = attributes(line)
            if hinted.get("TYPE") == "PART":
                hint = hinted.get("URI")
        elif line.startswith("#EXT-X-ENDLIST"):
            ended = True
        elif line and not line.startswith("#"):
            segments += 1
            parts_of_last, parts_pending = parts_pending, 0
    last_part: int | None
    if parts_pending:
        last_msn, last_part = media_sequence + segments, parts_pending - 1
    else:
        last_msn = media_sequence + segments - 1
        last_part = parts_of_last - 1 if segments and parts_of_last else None
    return PlaylistState(media_sequence, segments, last_msn, last_part, target, part_target,
                         skip_until, block_reload, ended, hint)


def _is_playlist_tag(line: str) -> bool:
    return any(line == tag or line.startswith(tag + ":") for tag in _PLAYLIST_TAGS)


def _tag_name(line: str) -> str:
    return line.split(":", 1)[0]


def _format_date(moment: datetime) -> str:
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def delta_update(playlist_text: str, skip_until_seconds: float) -> str:
    """The Playlist Delta Update (§6.2.5.1) of a media playlist for `_HLS_skip=YES`.

    The oldest complete segments whose end lies more than `skip_until_seconds` before the
    end of the playlist (the last part included) are replaced, with their tags, by one
    `#EXT-X-SKIP:SKIPPED-SEGMENTS=N`. Playlist tags stay; so do EXT-X-DATERANGE tags (only
    `CAN-SKIP-DATERANGES` would allow skipping them, and we never advertise it) and the last
    EXT-X-MAP, EXT-X-KEY and EXT-X-BITRATE before the skip, which still apply to the segments
    kept. When the first kept segment has no EXT-X-PROGRAM-DATE-TIME of its own but an
    earlier one was skipped, its date is carried over. EXT-X-VERSION is raised to 9.

    A playlist that has ended, or in which nothing is old enough, comes back unchanged.
    """
    lines = playlist_text.splitlines()
    # Each segment is the run of segment tags ending with its URI line.
    blocks: list[tuple[int, int, float]] = []  # (first line, URI line, duration)
    start = None
    duration = 0.0
    trailing_parts = 0.0
    for index, raw in enumerate(lines):
        line = raw.strip()
        if line == "#EXT-X-ENDLIST":
            return playlist_text
        if not line or _is_playlist_tag(line):
            continue
        if start is None:
            start = index
        if line.startswith("#EXTINF:"):
            duration = _extinf_duration(line)
        elif line.startswith("#EXT-X-PART:"):
            trailing_parts += _number(attributes(line).get("DURATION")) or 0.0
        elif not line.startswith("#"):
            blocks.append((start, index, duration))
            start, duration, trailing_parts = None, 0.0, 0.0

    edge = sum(block[2] for block in blocks) + trailing_parts
    skipped = 0
    elapsed = 0.0
    for _, _, seconds in blocks:
        elapsed += seconds
        if edge - elapsed > skip_until_seconds:
            skipped += 1
        else:
            break
    if skipped == 0:
        return playlist_text

    first_kept = blocks[skipped][0] if skipped < len(blocks) else (
        start if start is not None else blocks[-1][1] + 1)
    skipped_lines = set(range(blocks[0][0], blocks[skipped - 1][1] + 1))
    carried: dict[str, str] = {}
    dateranges: list[str] = []
    clock: datetime | None = None  # start of the next segment, by the last date seen
    for first, uri, seconds in blocks[:skipped]:
        for index in range(first, uri):
            line = lines[index].strip()
            if _tag_name(line) in _CARRIED_TAGS:
                carried[_tag_name(line)] = line
            elif line.startswith("#EXT-X-DATERANGE:"):
                dateranges.append(line)
            elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                try:
                    clock = datetime.fromisoformat(line.split(":", 1)[1].strip())
                except ValueError:
                    clock = None
        if clock is not None:
            clock += timedelta(seconds=seconds)

    kept_block_end = blocks[skipped][1] if skipped < len(blocks) else len(lines)
    kept_has_date = any(lines[i].strip().startswith("#EXT-X-PROGRAM-DATE-TIME:")
                        for i in range(first_kept, kept_block_end))
    inserted = [f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}", *carried.values(), *dateranges]
    if clock is not None and not kept_has_date:
        if clock.tzinfo is None:
            clock = clock.replace(tzinfo=UTC)
        inserted.append(f"#EXT-X-PROGRAM-DATE-TIME:{_format_date(clock)}")

    out: list[str] = []
    has_version = False
    for index, raw in enumerate(lines):
        if index == first_kept:
            out.extend(inserted)
        line = raw.strip()
        if line.startswith("#EXT-X-VERSION:"):
            has_version = True
            version = int(_number(line.split(":", 1)[1]) or 0)
            out.append(f"#EXT-X-VERSION:{max(version, SKIP_VERSION)}")
        elif index in skipped_lines and not _is_playlist_tag(line):
            continue
        else:
            out.append(raw)
    if first_kept >= len(lines):
        out.extend(inserted)
    if not has_version:
        out.insert(1 if out and out[0].strip() == "#EXTM3U" else 0, f"#EXT-X-VERSION:{SKIP_VERSION}")
    return "\n".join(out) + "\n"
