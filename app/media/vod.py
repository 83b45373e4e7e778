"""Turning a session's recording into a VOD: pure functions over names, bytes and times.

The VOD job (workers/vod.py) reads `recording.json` (workers.live.finish.recording_manifest) and
each rung's segment list, groups the ~1 s live segments into ~6 s VOD segments by byte
concatenation, and writes the VOD's playlists and its seek-preview track; the ffmpeg commands
that make the MP4, the poster and the sprites are built in app.media.ffmpeg_args (`mp4_args`,
`sprite_args`, `poster_args`). Nothing here touches files, storage or a process.

Why byte concatenation works: every live segment is one or more whole CMAF fragments
(moof+mdat, `default_base_moof`) that start with a keyframe, so consecutive segments of the same
run (same init section, no discontinuity) joined end to end are one longer, valid segment.
Across a restart the init section changes and timestamps start again, so groups never cross one.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .ffmpeg_args import SPRITE_COLUMNS, SPRITE_ROWS, THUMB_HEIGHT, THUMB_WIDTH
from .fmp4 import BoxReader, InitSegment, parse_fragment
from .playlist import MasterPlaylist, MediaPlaylist, Segment, extinf, parse_media
from .playlist import Variant as ListedVariant

VOD_SEGMENT_SECONDS = 6.0
# A group closes once it lasts this close to the goal (frame-rate rounding: 6 x 1.001 s is fine).
GROUP_TOLERANCE = 0.1
# ...or when the next live segment would push it this far past the goal (long live segments).
GROUP_OVERSHOOT = 2.0
# A run's last group shorter than this is joined to the one before it.
MIN_TAIL = 1.0
PLAYLIST_VERSION = 7
PLAYLIST_NAME = "index.m3u8"
MASTER_NAME = "master.m3u8"
DOWNLOAD_NAME = "video.mp4"
POSTER_NAME = "poster.jpg"
THUMBNAILS_NAME = "thumbnails.vtt"
MAX_THUMBNAILS = 200
MIN_THUMBNAIL_SECONDS = 2

# Names a recording may use; anything else in recording.json is refused before it reaches a
# path or a storage key.
_RUNG_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # StreamSession.internal_name, "st-<hex>"
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
# The classic (normal latency) muxer's names, from app.media.ffmpeg_args.hls_args: segments
# seg_<n>.m4s, and init-<start>-<rung>.mp4 for the run whose first segment is <start>.
CLASSIC_SEGMENT = re.compile(r"seg_([0-9]+)\.m4s")
CLASSIC_INIT = re.compile(r"init-([0-9]+)(?:-[A-Za-z0-9_-]*)?\.mp4")


class BadRecording(ValueError):
    """A recording.json or recording playlist that cannot be a VOD (with the reason)."""


# --- the recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RungFiles:
    """One rung's files in a recording: init sections and segments in order, and (LL-HLS) the
    recording playlist that lists every segment with its timing."""

    name: str
    inits: tuple[str, ...]
    segments: tuple[str, ...]
    playlist: str | None = None

    @property
    def files(self) -> tuple[str, ...]:
        return self.inits + self.segments + ((self.playlist,) if self.playlist else ())


@dataclass(frozen=True)
class Recording:
    session_id: int
    internal_name: str
    started_at: datetime | None
    ended_at: datetime | None
    renditions: tuple[dict[str, Any], ...]
    rungs: tuple[RungFiles, ...]


def _name(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRecording(f"recording.json names {what} {value!r}, which is not a plain file name")
    return value


def _moment(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRecording(f"recording.json has a bad time {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_manifest(manifest: object) -> Recording:
    """The recording described by `recording.json` (parsed JSON), every name checked.

    Raises BadRecording when it is not an object of the expected shape or names a file or
    rung with anything but letters, digits, '.', '_' and '-' (a path must never come from it).
    """
    if not isinstance(manifest, dict):
        raise BadRecording("recording.json is not a JSON object")
    try:
        session_id = int(manifest["session_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecording("recording.json has no session_id") from exc
    internal_name = _name(manifest.get("internal_name"), _STREAM_NAME, "the stream")
    rungs_in = manifest.get("rungs")
    if not isinstance(rungs_in, dict) or not rungs_in:
        raise BadRecording("recording.json lists no rungs")
    rungs = []
    for rung_name, files in sorted(rungs_in.items()):
        _name(rung_name, _RUNG_NAME, "a rung")
        if not isinstance(files, dict) or not isinstance(files.get("inits"), list) \
                or not isinstance(files.get("segments"), list):
            raise BadRecording(f"rung {rung_name} in recording.json has no inits and segments lists")
        inits = tuple(_name(n, _FILE_NAME, "an init section") for n in files["inits"])
        segments = tuple(_name(n, _FILE_NAME, "a segment") for n in files["segments"])
        playlist = files.get("playlist")
        if playlist is not None:
            _name(playlist, _FILE_NAME, "a playlist")
        rungs.append(RungFiles(rung_name, inits, segments, playlist))
    renditions = manifest.get("renditions") or []
    if not isinstance(renditions, list):
        raise BadRecording("recording.json has renditions that are not a list")
    return Recording(session_id=session_id, internal_name=internal_name,
                     started_at=_moment(manifest.get("started_at")),
                     ended_at=_moment(manifest.get("ended_at")),
                     renditions=tuple(r for r in renditions if isinstance(r, dict)),
                     rungs=tuple(rungs))


@dataclass(frozen=True)
class LiveSegment:
    """One live segment of a rung as the VOD job sees it."""

    name: str
    duration: float
    init: str
    started: datetime | None = None  # wall clock of its first frame (PROGRAM-DATE-TIME)
    discontinuity: bool = False  # timestamps do not continue from the segment before


def read_recording_playlist(text: str) -> list[LiveSegment]:
    """Every segment of an LL-HLS `recording.m3u8` (app.media.llhls), with its init section,
    date and discontinuity. Raises BadRecording for a segment without EXT-X-MAP or EXTINF."""
    recorded = parse_media(text)
    lines = text.splitlines()
    problems = list(recorded.problems)
    segments: list[LiveSegment] = []
    for listed in recorded.segments:
        while problems and (listed.uri is None or problems[0][0] < listed.line):
            _refuse(*problems.pop(0), lines)
        if listed.uri is None:
            break  # parts after the last segment: not recorded
        init = _name(listed.map, _FILE_NAME, "an init section") if listed.map is not None else None
        name = _name(listed.uri, _FILE_NAME, "a segment")
        if init is None or listed.duration is None or listed.duration <= 0:
            raise BadRecording(f"recording playlist line {listed.line}: segment {name} "
                               "has no EXT-X-MAP or no positive EXTINF before it")
        segments.append(LiveSegment(name, listed.duration, init, listed.date, listed.discontinuity))
    for problem in problems:
        _refuse(*problem, lines)
    return segments


def _refuse(number: int, what: str, lines: Sequence[str]) -> None:
    """A line of a recording playlist the parser could not read: a bad EXTINF or date is refused."""
    if what == "bad EXTINF":
        raise BadRecording(f"recording playlist line {number}: bad EXTINF")
    if what == "bad EXT-X-PROGRAM-DATE-TIME":
        _moment(lines[number - 1].strip().split(":", 1)[1])  # raises, naming the bad time


def keep_present(segments: Sequence[LiveSegment], present: Iterable[str]) -> list[LiveSegment]:
    """`segments` without those whose file is missing; the segment after a gap starts a new
    run (timestamps jump there), so it is marked as a discontinuity."""
    present = set(present)
    kept: list[LiveSegment] = []
    gap = False
    for segment in segments:
        if segment.name not in present:
            gap = True
            continue
        if gap and kept:
            segment = LiveSegment(segment.name, segment.duration, segment.init, segment.started, True)
        kept.append(segment)
        gap = False
    return kept


def segment_timing(data: bytes, init: InitSegment) -> tuple[float, bool]:
    """(duration in seconds, starts with a sync sample) of a segment made of whole fragments,
    from its trun sample durations (for classic recordings, whose EXTINFs are not kept)."""
    reader = BoxReader()
    boxes = reader.feed(data) + reader.close()
    duration = 0.0
    independent = None
    moof = None
    for box in boxes:
        if box.type == "moof":
            moof = box
        elif box.type == "mdat" and moof is not None:
            fragment = parse_fragment(moof, init)
            duration += fragment.duration
            if independent is None:
                independent = fragment.independent
            moof = None
    if independent is None:
        raise BadRecording("segment holds no fragment")
    return duration, independent


def classic_run_start(init_name: str, earliest: datetime | None, latest: datetime | None
                      ) -> datetime | None:
    """When a classic run began: the transcode numbers a run's files from
    int(time.time() * 10) (workers.live.session, classic runs), so the init section's number is
    its start in tenths of a second. None unless that falls within the session."""
    match = CLASSIC_INIT.fullmatch(init_name)
    if not match or earliest is None:
        return None
    try:
        moment = datetime.fromtimestamp(int(match[1]) / 10, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if moment < earliest - timedelta(minutes=1):
        return None
    if latest is not None and moment > latest + timedelta(minutes=1):
        return None
    return moment


def classic_init_for(segment: str, inits: Sequence[str]) -> str | None:
    """The init section of a classic segment: its run's, the one with the highest start
    number not above the segment's number (runs number their files after every earlier run's)."""
    match = CLASSIC_SEGMENT.fullmatch(segment)
    if not match:
        return None
    number = int(match[1])
    runs = sorted((int(m[1]), name) for name in inits if (m := CLASSIC_INIT.fullmatch(name)))
    found = None
    for start, name in runs:
        if start <= number:
            found = name
    return found


def classic_segments(names: Sequence[str], inits: Sequence[str], durations: Mapping[str, float],
                     session_started: datetime | None, session_ended: datetime | None = None
                     ) -> list[LiveSegment]:
    """A classic recording's segments in order, each with the init section of its run (the one
    with the highest start number not above the segment's), a date and a discontinuity at every
    new run and after every segment left out. Dates count from the run's start (see
    classic_run_start), else from the session's start or the end of the run before. Segments
    without a run or a duration are left out."""
    numbered = sorted((int(m[1]), name) for name in names if (m := CLASSIC_SEGMENT.fullmatch(name)))
    out: list[LiveSegment] = []
    clock = session_started
    current_init = None
    previous = None
    for number, name in numbered:
        init = classic_init_for(name, inits)
        duration = durations.get(name)
        if init is None or not duration or duration <= 0:
            continue
        new_run = init != current_init
        if new_run:
            began = classic_run_start(init, session_started, session_ended)
            if began is not None and (clock is None or began >= clock):
                clock = began
        # A run numbers its segments one by one: a number skipped is a segment left out, and
        # the timestamps jump there.
        gap = not new_run and previous is not None and number != previous + 1  # (set by then)
        out.append(LiveSegment(name, duration, init, clock, (new_run and current_init is not None) or gap))
        current_init, previous = init, number
        if clock is not None:
            clock = clock + timedelta(seconds=duration)
    return out


# --- grouping --------------------------------------------------------------------------------


@dataclass
class VodSegment:
    """One VOD segment: the bytes of `sources` (live segment files) one after another."""

    index: int
    init: int  # index into the rung's init sections: init-<init>.mp4
    sources: list[str] = field(default_factory=list)
    duration: float = 0.0
    started: datetime | None = None
    discontinuity: bool = False

    @property
    def name(self) -> str:
        return f"seg-{self.index}.m4s"


def vod_init_name(index: int) -> str:
    return f"init-{index}.mp4"


def group_segments(live: Sequence[LiveSegment], target: float = VOD_SEGMENT_SECONDS
                   ) -> tuple[list[str], list[VodSegment]]:
    """Group consecutive live segments into VOD segments of about `target` seconds.

    Returns the source init section names in order (the VOD's init-<k>.mp4 is the k-th) and
    the VOD segments. A group never spans a discontinuity or a change of init section.
    """
    inits: list[str] = []
    groups: list[VodSegment] = []
    current: VodSegment | None = None
    for segment in live:
        if segment.init not in inits:
            inits.append(segment.init)
        init = inits.index(segment.init)
        boundary = segment.discontinuity or (current is not None and current.init != init)
        if boundary:
            _end_run(groups)
        if current is not None and (boundary or current.duration >= target - GROUP_TOLERANCE
                                    or current.duration + segment.duration > target + GROUP_OVERSHOOT):
            current = None
        if current is None:
            # A new init section means a new ffmpeg run: its timestamps start again.
            discontinuity = bool(groups) and boundary
            current = VodSegment(index=len(groups), init=init, started=segment.started,
                                 discontinuity=discontinuity)
            groups.append(current)
        current.sources.append(segment.name)
        current.duration += segment.duration
    _end_run(groups)
    return inits, groups


def _end_run(groups: list[VodSegment]) -> None:
    """A run's last group shorter than MIN_TAIL (ffmpeg's stray last frame) joins the group
    before it in the same run, rather than being a segment of its own."""
    if len(groups) < 2:
        return
    last, before = groups[-1], groups[-2]
    if last.duration < MIN_TAIL and not last.discontinuity and last.init == before.init:
        before.sources += last.sources
        before.duration += last.duration
        groups.pop()


def runs_of(segments: Sequence[VodSegment]) -> list[list[VodSegment]]:
    """The VOD segments split where a new run starts (a discontinuity or another init section):
    each run is one fragmented MP4 once its init section is put in front."""
    runs: list[list[VodSegment]] = []
    for segment in segments:
        if not runs or segment.discontinuity or segment.init != runs[-1][-1].init:
            runs.append([])
        runs[-1].append(segment)
    return runs


# --- playlists -------------------------------------------------------------------------------


def target_duration(segments: Sequence[VodSegment]) -> int:
    """EXT-X-TARGETDURATION: at least every EXTINF as written, rounded up (which also covers
    the spec's rounded-to-nearest rule and players that still compare the exact value)."""
    return max(1, max(math.ceil(float(extinf(s.duration))) for s in segments))


def media_playlist(segments: Sequence[VodSegment]) -> str:
    """A rung's VOD playlist: every segment, an EXT-X-MAP wherever the init section changes,
    a date on each segment, EXT-X-DISCONTINUITY where the recording had one, and ENDLIST."""
    if not segments:
        raise ValueError("a VOD playlist needs at least one segment")
    return MediaPlaylist(
        version=PLAYLIST_VERSION, playlist_type="VOD", target_duration=target_duration(segments),
        independent_segments=True, ended=True,
        segments=[Segment(segment.name, segment.duration, segment.started, vod_init_name(segment.init),
                          segment.discontinuity) for segment in segments]).render()


def playlist_duration(segments: Sequence[VodSegment]) -> float:
    """The duration players see: the sum of the EXTINFs as written."""
    return round(sum(float(extinf(s.duration)) for s in segments), 3)


def bandwidths(segments: Sequence[VodSegment], sizes: Mapping[str, int]) -> tuple[int, int]:
    """(BANDWIDTH, AVERAGE-BANDWIDTH) in bits/s for a rung: the peak and mean segment bit rate
    (RFC 8216bis §4.4.6.2 defines both for VOD that way). A segment under half a second (the
    stump before a restart) would show a peak no viewer's link has to carry, so it is skipped."""
    total_bits = sum(sizes[s.name] * 8 for s in segments)
    total_seconds = sum(s.duration for s in segments)
    average = math.ceil(total_bits / total_seconds) if total_seconds > 0 else 0
    rates = [sizes[s.name] * 8 / s.duration for s in segments if s.duration >= 0.5]
    return (math.ceil(max(rates)) if rates else average), average


@dataclass(frozen=True)
class Variant:
    """One rung in the VOD's master playlist."""

    uri: str
    bandwidth: int
    average_bandwidth: int
    width: int
    height: int
    codecs: str
    frame_rate: float | None = None


def vod_master_playlist(variants: Sequence[Variant]) -> str:
    """The VOD's master playlist, best rung first, relative URIs (as app.media.llladder writes
    the live one)."""
    if not variants:
        raise ValueError("a master playlist lists at least one rung")
    ranked = sorted(variants, key=lambda v: (v.height, v.bandwidth), reverse=True)
    return MasterPlaylist([ListedVariant(variant.uri, variant.bandwidth, variant.average_bandwidth,
                                         (variant.width, variant.height), variant.codecs, variant.frame_rate)
                           for variant in ranked], version=PLAYLIST_VERSION).render()


# --- seek previews ---------------------------------------------------------------------------


def thumbnail_interval(duration: float, most: int = MAX_THUMBNAILS,
                       shortest: int = MIN_THUMBNAIL_SECONDS) -> int:
    """Seconds between thumbnails: `shortest`, grown so there are at most `most` of them."""
    return max(shortest, math.ceil(duration / most)) if duration > 0 else shortest


def sprite_name(index: int) -> str:
    return f"sprite-{index}.jpg"


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    sprite: int
    x: int
    y: int

    @property
    def target(self) -> str:
        return f"{sprite_name(self.sprite)}#xywh={self.x},{self.y},{THUMB_WIDTH},{THUMB_HEIGHT}"


def thumbnail_cues(duration: float, interval: int) -> list[Cue]:
    """One cue per thumbnail: thumbnail n shows time n*interval (ffmpeg's fps=1/interval picks
    the frames at 0, interval, 2*interval...) and tiles fill each sprite row by row."""
    if duration <= 0 or interval <= 0:
        return []
    per_sprite = SPRITE_COLUMNS * SPRITE_ROWS
    cues = []
    for n in range(math.ceil(duration / interval - 1e-6)):
        tile = n % per_sprite
        cues.append(Cue(start=n * interval, end=min((n + 1) * interval, duration),
                        sprite=n // per_sprite, x=(tile % SPRITE_COLUMNS) * THUMB_WIDTH,
                        y=(tile // SPRITE_COLUMNS) * THUMB_HEIGHT))
    return cues


def sprite_count(cues: Sequence[Cue]) -> int:
    return cues[-1].sprite + 1 if cues else 0


def vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def thumbnails_vtt(cues: Sequence[Cue]) -> str:
    """The WebVTT seek-preview track: each cue's text is its tile, relative to the VTT file."""
    blocks = ["WEBVTT"]
    for cue in cues:
        blocks.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n{cue.target}")
    return "\n\n".join(blocks) + "\n"


def poster_time(duration: float) -> float:
    """Where the poster frame is taken: a tenth of the way in (past titles and black)."""
    return round(max(0.0, duration * 0.1), 3)
