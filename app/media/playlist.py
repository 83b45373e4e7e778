"""The HLS playlist model: typed tags that render themselves, one parser that reads them back, delta updates.

Every playlist Cascade Live writes is built from these values (gohlslib's habit: build the
playlist, marshal it, never format tag text by hand): the live LL-HLS playlists and the
recording list (app.media.llhls), the live master (app.media.llladder), the VOD's playlists
(app.media.vod); and every playlist it reads goes through `parse_media` / `parse_master` (the
packager resuming, the VOD job, the blocking-reload endpoint, the mirror, the live host's stats,
thumbnails and resume point). Two writers edit text rather than render it, on purpose, adding
only tags and attributes formatted here: the delta update (a player must find the served lines
verbatim) and app.media.hls, which completes ffmpeg's master in place. Tag rules follow
draft-pantos-hls-rfc8216bis §4.4 (tags), §6.2.5.1 (delta updates) and §6.2.5.2 (blocking reload).

Formats (one of each, named here; the bytes every playlist had before this model are kept):
- dates: `program_date`, UTC with milliseconds and `Z`.
- durations: `extinf` (EXTINF: always three decimals, so EXTINF-derived sums and
  TARGETDURATION are computed from exactly what players read) and `decimal` (attribute values
  such as PART DURATION, PART-TARGET and the hold-backs: milliseconds without trailing zeros,
  a whole number as `N.0`). Two, on purpose: EXTINF keeps the fixed width the VOD job's
  arithmetic and every recording already on disk use.
- frame rates: `frame_rate`, three decimals (§4.4.6.2).

Why not PyPI's `m3u8` (6.0.0; figures from bench/playlist_render.py on a 2-core box, for the live
playlist the packager writes after each part: 6 segments of 3 parts, a preload hint, 2 rendition
reports). It is fast enough to render on the hot path (0.07-0.13 ms, well under 1 ms; ours 0.017 ms)
but not to read (0.3-0.5 ms against our 0.04 ms, for every new playlist in every web process
serving blocking reloads; a 2-hour VOD playlist: 14 ms against 2 ms), and it does not write our
playlists back byte for byte: it reorders EXT-X-SERVER-CONTROL's attributes and writes
`HOLD-BACK=3` and `CAN-SKIP-UNTIL=6`, puts EXT-X-MEDIA-SEQUENCE above EXT-X-VERSION, writes dates
as `+00:00` and a whole EXTINF as `1,` (the VOD job's arithmetic over the written EXTINFs would
change), and drops the EXT-X-PROGRAM-DATE-TIME of the segment still growing parts (players would
lose the date of the live edge). Its EXT-X-PART, EXT-X-PART-INF, EXT-X-PRELOAD-HINT,
EXT-X-RENDITION-REPORT and EXT-X-SKIP lines do match ours. Building on it would mean subclassing
its renderer to undo those differences, for a model no simpler than these few dataclasses.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SKIP_VERSION = 9  # EXT-X-SKIP needs EXT-X-VERSION 9 or higher (§4.4.5.2)

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
# EXT-X-PART as Part.render writes it, read without building an attribute dict: most lines of a
# live playlist are parts, and every web process serving blocking reloads reads each new playlist.
_OUR_PART = re.compile(r'#EXT-X-PART:DURATION=([0-9.]+),URI="([^"]*)"(,INDEPENDENT=YES)?')

# Tags that describe the playlist as a whole (§4.4.3) or its live edge (§4.4.5). Every other
# tag belongs to the Media Segment that follows it (§4.4.4), which is what a delta update drops.
_PLAYLIST_TAGS = (
    "#EXTM3U", "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-ENDLIST", "#EXT-X-PLAYLIST-TYPE",
    "#EXT-X-I-FRAMES-ONLY", "#EXT-X-PART-INF", "#EXT-X-SERVER-CONTROL", "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-START", "#EXT-X-DEFINE", "#EXT-X-SKIP", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT",
)
_PLAYLIST_TAG_NAMES = frozenset(_PLAYLIST_TAGS)
# Segment tags that apply to every later segment too: a delta update must not lose the last
# one before the first segment it keeps, or that segment would lose its init section or key.
_CARRIED_TAGS = ("#EXT-X-MAP", "#EXT-X-KEY", "#EXT-X-BITRATE")


# --- formats -----------------------------------------------------------------------------------


# The formatters are cached: the live packager writes every part and date of its window again for
# each new part (durations repeat; a segment's date is written until it leaves the window).
@functools.lru_cache(maxsize=1024)
def program_date(moment: datetime) -> str:
    """EXT-X-PROGRAM-DATE-TIME's value: UTC, milliseconds, `Z` (live and VOD playlists alike)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=256)
def decimal(seconds: float) -> str:
    """A duration in an attribute (PART DURATION, PART-TARGET, hold-backs, CAN-SKIP-UNTIL):
    milliseconds, without trailing zeros."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") if seconds % 1 else f"{seconds:.1f}"


def extinf(seconds: float) -> str:
    """EXTINF's duration: always three decimals (the figure players add up and TARGETDURATION covers)."""
    return f"{seconds:.3f}"


def frame_rate(fps: float) -> str:
    """FRAME-RATE's value: three decimals (§4.4.6.2)."""
    return f"{fps:.3f}"


def quoted(value: str) -> str:
    return f'"{value}"'


# --- reading values ------------------------------------------------------------------------------


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


def _whole(value: str | None) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


@functools.lru_cache(maxsize=1024)  # a live playlist's dates recur in each of its next versions
def _date(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- tags ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Part:
    """EXT-X-PART (§4.4.4.9): a partial segment."""

    duration: float
    uri: str
    independent: bool = False

    def render(self) -> str:
        return (f'#EXT-X-PART:DURATION={decimal(self.duration)},URI="{self.uri}"'
                + (",INDEPENDENT=YES" if self.independent else ""))


@dataclass(slots=True)
class Segment:
    """A Media Segment with the tags before its URI: EXT-X-DISCONTINUITY, EXT-X-MAP (written where
    the init section changes), EXT-X-PROGRAM-DATE-TIME, its parts, EXTINF.

    `uri` None is the segment still growing at a live edge: only its parts are listed.
    `map` is the init section in effect (a parsed segment carries the last EXT-X-MAP before it).
    `tags`: other segment tags read, as written (EXT-X-DATERANGE, EXT-X-KEY...), kept in order.
    `line`: where the parser found the URI (for error messages), 0 for a built one.
    """

    uri: str | None
    duration: float | None = None
    date: datetime | None = None
    map: str | None = None
    discontinuity: bool = False
    parts: Sequence[Part] = ()
    tags: Sequence[str] = ()
    line: int = field(default=0, compare=False)

    def render(self, out: list[str], previous_map: str | None) -> str | None:
        """Append this segment's lines to `out`; returns the init section in effect after it."""
        if self.discontinuity:
            out.append("#EXT-X-DISCONTINUITY")
        if self.map is not None and self.map != previous_map:
            out.append(f'#EXT-X-MAP:URI="{self.map}"')
            previous_map = self.map
        if self.date is not None:
            out.append(program_date_tag(self.date))
        out.extend(self.tags)
        # A segment's own tags come before its first part (§4.4.4.9).
        for part in self.parts:
            out.append(part.render())
        if self.uri is not None:
            out.append(f"#EXTINF:{extinf(self.duration or 0.0)},")
            out.append(self.uri)
        return previous_map


@dataclass(frozen=True, slots=True)
class ServerControl:
    """EXT-X-SERVER-CONTROL (§4.4.3.8)."""

    can_block_reload: bool = False
    can_skip_until: float | None = None
    part_hold_back: float | None = None
    hold_back: float | None = None

    def render(self) -> str:
        values = []
        if self.can_block_reload:
            values.append("CAN-BLOCK-RELOAD=YES")
        if self.can_skip_until is not None:
            values.append(f"CAN-SKIP-UNTIL={decimal(self.can_skip_until)}")
        if self.part_hold_back is not None:
            values.append(f"PART-HOLD-BACK={decimal(self.part_hold_back)}")
        if self.hold_back is not None:
            values.append(f"HOLD-BACK={decimal(self.hold_back)}")
        return "#EXT-X-SERVER-CONTROL:" + ",".join(values)


@dataclass(frozen=True, slots=True)
class PreloadHint:
    """EXT-X-PRELOAD-HINT (§4.4.5.3)."""

    uri: str
    type: str = "PART"

    def render(self) -> str:
        return f'#EXT-X-PRELOAD-HINT:TYPE={self.type},URI="{self.uri}"'


@dataclass(frozen=True, slots=True)
class RenditionReport:
    """EXT-X-RENDITION-REPORT (§4.4.5.4): another rendition's live edge."""

    uri: str
    last_msn: int
    last_part: int

    def render(self) -> str:
        return f'#EXT-X-RENDITION-REPORT:URI="{self.uri}",LAST-MSN={self.last_msn},LAST-PART={self.last_part}'


@dataclass(frozen=True, slots=True)
class Skip:
    """EXT-X-SKIP (§4.4.5.2): where a delta update left out the oldest segments."""

    skipped_segments: int

    def render(self) -> str:
        return f"#EXT-X-SKIP:SKIPPED-SEGMENTS={self.skipped_segments}"


def program_date_tag(moment: datetime) -> str:
    return "#EXT-X-PROGRAM-DATE-TIME:" + program_date(moment)


@dataclass(slots=True)
class MediaPlaylist:
    """A media playlist. The header is written in one order for every kind (EXTM3U, VERSION,
    PLAYLIST-TYPE, TARGETDURATION, SERVER-CONTROL, PART-INF, MEDIA-SEQUENCE,
    DISCONTINUITY-SEQUENCE when not 0, INDEPENDENT-SEGMENTS), then the segments, then the live
    edge (PRELOAD-HINT, RENDITION-REPORTs) or ENDLIST.

    `skipped`: segments a delta update left out (EXT-X-SKIP). `problems`: what the parser could
    not read, as (line number, what); it never raises, so that readers that may not fail (the
    mirror, stats) read what is there and those that must refuse (the VOD job) can.
    """

    target_duration: int | None = None
    version: int | None = None
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    playlist_type: str | None = None
    independent_segments: bool = False
    server_control: ServerControl | None = None
    part_target: float | None = None
    segments: list[Segment] = field(default_factory=list)
    preload_hint: PreloadHint | None = None
    rendition_reports: Sequence[RenditionReport] = ()
    ended: bool = False
    skipped: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def header(self) -> list[str]:
        lines = ["#EXTM3U"]
        if self.version is not None:
            lines.append(f"#EXT-X-VERSION:{self.version}")
        if self.playlist_type is not None:
            lines.append(f"#EXT-X-PLAYLIST-TYPE:{self.playlist_type}")
        if self.target_duration is not None:
            lines.append(f"#EXT-X-TARGETDURATION:{self.target_duration}")
        if self.server_control is not None:
            lines.append(self.server_control.render())
        if self.part_target is not None:
            lines.append(f"#EXT-X-PART-INF:PART-TARGET={decimal(self.part_target)}")
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{self.media_sequence}")
        if self.discontinuity_sequence:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}")
        if self.independent_segments:
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        return lines

    def render(self) -> str:
        lines = self.header()
        if self.skipped:
            lines.append(Skip(self.skipped).render())
        init = None
        for segment in self.segments:
            init = segment.render(lines, init)
        if self.preload_hint is not None:
            lines.append(self.preload_hint.render())
        for report in self.rendition_reports:
            lines.append(report.render())
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Variant:
    """EXT-X-STREAM-INF (§4.4.6.2) and its URI: one rendition in a multivariant playlist.
    `closed_captions` is written as is ("NONE", or a quoted GROUP-ID)."""

    uri: str
    bandwidth: int
    average_bandwidth: int | None = None
    resolution: tuple[int, int] | None = None
    codecs: str | None = None
    frame_rate: float | None = None
    closed_captions: str | None = None

    def render(self) -> str:
        info = f"#EXT-X-STREAM-INF:BANDWIDTH={self.bandwidth}"
        if self.average_bandwidth is not None:
            info += f",AVERAGE-BANDWIDTH={self.average_bandwidth}"
        if self.resolution is not None:
            info += f",RESOLUTION={self.resolution[0]}x{self.resolution[1]}"
        if self.codecs is not None:
            info += f',CODECS="{self.codecs}"'
        if self.frame_rate:
            info += f",FRAME-RATE={frame_rate(self.frame_rate)}"
        if self.closed_captions is not None:
            info += f",CLOSED-CAPTIONS={self.closed_captions}"
        return info + "\n" + self.uri


@dataclass(frozen=True, slots=True)
class MasterPlaylist:
    """A multivariant playlist: the renditions in the order given."""

    variants: Sequence[Variant]
    version: int | None = None
    independent_segments: bool = True

    def render(self) -> str:
        lines = ["#EXTM3U"]
        if self.version is not None:
            lines.append(f"#EXT-X-VERSION:{self.version}")
        if self.independent_segments:
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        lines += [variant.render() for variant in self.variants]
        return "\n".join(lines) + "\n"


# --- the parser ----------------------------------------------------------------------------------


def _resolution(value: str | None) -> tuple[int, int] | None:
    width, _, height = (value or "").partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def parse_master(text: str) -> MasterPlaylist:
    """The variants of a multivariant playlist (EXT-X-STREAM-INF and the URI after each)."""
    variants = []
    version = None
    independent = False
    info: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            info = attributes(line)
        elif line.startswith("#EXT-X-VERSION:"):
            version = _whole(line[15:])
        elif line == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif line and not line.startswith("#") and info is not None:
            variants.append(Variant(
                uri=line, bandwidth=_whole(info.get("BANDWIDTH")) or 0,
                average_bandwidth=_whole(info.get("AVERAGE-BANDWIDTH")),
                resolution=_resolution(info.get("RESOLUTION")), codecs=info.get("CODECS"),
                frame_rate=_number(info.get("FRAME-RATE")), closed_captions=info.get("CLOSED-CAPTIONS")))
            info = None
    return MasterPlaylist(variants, version, independent)


def parse_media(text: str) -> MediaPlaylist:
    """A media playlist's text as the model: what `MediaPlaylist.render` writes reads back equal.

    Tags the model does not type are kept: segment tags as written on their segment, playlist
    tags dropped. Parts after the last segment URI make a last segment with `uri` None (the one
    growing at a live edge).
    """
    playlist = MediaPlaylist()
    segments = playlist.segments
    problems = playlist.problems
    reports: list[RenditionReport] = []
    parts: list[Part] = []
    tags: list[str] = []
    init: str | None = None
    date: datetime | None = None
    duration: float | None = None
    discontinuity = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] != "#":
            segments.append(Segment(line, duration, date, init, discontinuity, parts, tags, number))
            parts, tags, date, duration, discontinuity = [], [], None, None, False
            continue
        name, _, value = line.partition(":")
        if name == "#EXT-X-PART":
            ours = _OUR_PART.fullmatch(line)
            if ours is not None:
                parts.append(Part(float(ours[1]), ours[2], ours[3] is not None))
                continue
            found = attributes(line)
            length = _number(found.get("DURATION"))
            if length is None or "URI" not in found:
                problems.append((number, "bad EXT-X-PART"))
            else:
                parts.append(Part(length, found["URI"], found.get("INDEPENDENT") == "YES"))
        elif name == "#EXT-X-PROGRAM-DATE-TIME":
            date = _date(value)
            if date is None:
                problems.append((number, "bad EXT-X-PROGRAM-DATE-TIME"))
        elif name == "#EXTINF":
            duration = _number(value.split(",", 1)[0].strip())
            if duration is None:
                problems.append((number, "bad EXTINF"))
        elif name == "#EXT-X-MAP":
            init = attributes(line).get("URI", "")
        elif name == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif name == "#EXT-X-MEDIA-SEQUENCE":
            playlist.media_sequence = _whole(value) or 0
        elif name == "#EXT-X-DISCONTINUITY-SEQUENCE":
            playlist.discontinuity_sequence = _whole(value) or 0
        elif name == "#EXT-X-TARGETDURATION":
            playlist.target_duration = _whole(value)
        elif name == "#EXT-X-VERSION":
            playlist.version = _whole(value)
        elif name == "#EXT-X-PLAYLIST-TYPE":
            playlist.playlist_type = value
        elif name == "#EXT-X-INDEPENDENT-SEGMENTS":
            playlist.independent_segments = True
        elif name == "#EXT-X-PART-INF":
            playlist.part_target = _number(attributes(line).get("PART-TARGET"))
        elif name == "#EXT-X-SERVER-CONTROL":
            control = attributes(line)
            playlist.server_control = ServerControl(
                control.get("CAN-BLOCK-RELOAD") == "YES", _number(control.get("CAN-SKIP-UNTIL")),
                _number(control.get("PART-HOLD-BACK")), _number(control.get("HOLD-BACK")))
        elif name == "#EXT-X-PRELOAD-HINT":
            hinted = attributes(line)
            if hinted.get("TYPE") == "PART" and "URI" in hinted:
                playlist.preload_hint = PreloadHint(hinted["URI"])
        elif name == "#EXT-X-RENDITION-REPORT":
            report = attributes(line)
            msn, part = _whole(report.get("LAST-MSN")), _whole(report.get("LAST-PART"))
            if "URI" in report and msn is not None:
                reports.append(RenditionReport(report["URI"], msn, -1 if part is None else part))
        elif name == "#EXT-X-SKIP":
            playlist.skipped = _whole(attributes(line).get("SKIPPED-SEGMENTS")) or 0
        elif name == "#EXT-X-ENDLIST":
            playlist.ended = True
        elif name not in _PLAYLIST_TAG_NAMES and name.startswith("#EXT"):
            tags.append(line)
    if parts:
        segments.append(Segment(None, None, date, init, discontinuity, parts, tags))
    playlist.rendition_reports = reports
    return playlist


# --- the live edge, for blocking reloads ---------------------------------------------------------


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

    @classmethod
    def of(cls, playlist: MediaPlaylist) -> PlaylistState:
        listed = playlist.segments
        growing = bool(listed) and listed[-1].uri is None
        complete = len(listed) - growing
        last_part: int | None
        if growing:
            last_msn, last_part = playlist.media_sequence + complete, len(listed[-1].parts) - 1
        else:
            last_msn = playlist.media_sequence + complete - 1
            last_part = len(listed[-1].parts) - 1 if listed and listed[-1].parts else None
        control = playlist.server_control or ServerControl()
        return cls(playlist.media_sequence, complete, last_msn, last_part,
                   None if playlist.target_duration is None else float(playlist.target_duration),
                   playlist.part_target, control.can_skip_until, control.can_block_reload, playlist.ended,
                   playlist.preload_hint.uri if playlist.preload_hint else None)


def parse_media_playlist(text: str) -> PlaylistState:
    """The live edge and server-control values of a media playlist's text."""
    return PlaylistState.of(parse_media(text))


# --- delta updates -------------------------------------------------------------------------------


def _is_playlist_tag(line: str) -> bool:
    return line.partition(":")[0] in _PLAYLIST_TAG_NAMES


def _tag_name(line: str) -> str:
    return line.split(":", 1)[0]


def delta_update(playlist_text: str, skip_until_seconds: float) -> str:
    """The Playlist Delta Update (§6.2.5.1) of a media playlist for `_HLS_skip=YES`.

    The oldest complete segments whose end lies more than `skip_until_seconds` before the
    end of the playlist (the last part included) are replaced, with their tags, by one
    `#EXT-X-SKIP:SKIPPED-SEGMENTS=N`. Playlist tags stay; so do EXT-X-DATERANGE tags (only
    `CAN-SKIP-DATERANGES` would allow skipping them, and we never advertise it) and the last
    EXT-X-MAP, EXT-X-KEY and EXT-X-BITRATE before the skip, which still apply to the segments
    kept. When the first kept segment has no EXT-X-PROGRAM-DATE-TIME of its own but an
    earlier one was skipped, its date is carried over. EXT-X-VERSION is raised to 9.

    The lines kept are the served playlist's own, byte for byte (an edit of the text the
    packager wrote, not a re-render: a player holding the full playlist must find the very same
    lines); the lines added are the model's tags. A playlist that has ended, or in which nothing
    is old enough, comes back unchanged.
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
            duration = _number(line[8:].split(",", 1)[0].strip()) or 0.0
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
                clock = _date(line.split(":", 1)[1])
        if clock is not None:
            clock += timedelta(seconds=seconds)

    kept_block_end = blocks[skipped][1] if skipped < len(blocks) else len(lines)
    kept_has_date = any(lines[i].strip().startswith("#EXT-X-PROGRAM-DATE-TIME:")
                        for i in range(first_kept, kept_block_end))
    inserted = [Skip(skipped).render(), *carried.values(), *dateranges]
    if clock is not None and not kept_has_date:
        inserted.append(program_date_tag(clock))

    out: list[str] = []
    has_version = False
    for index, raw in enumerate(lines):
        if index == first_kept:
            out.extend(inserted)
        line = raw.strip()
        if line.startswith("#EXT-X-VERSION:"):
            has_version = True
            version = _whole(line.split(":", 1)[1]) or 0
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


def media_uris(playlist: MediaPlaylist) -> Iterable[str]:
    """The files a media playlist names, in order: init sections (where EXT-X-MAP changes),
    parts and segments."""
    init = None
    for segment in playlist.segments:
        if segment.map and segment.map != init:
            yield segment.map
            init = segment.map
        for part in segment.parts:
            yield part.uri
        if segment.uri is not None:
            yield segment.uri
