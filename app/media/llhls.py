"""LL-HLS packaging of one rendition: CMAF fragments in, parts, segments and a media playlist out.

The transcode worker feeds each rung's fMP4 fragments (one per part, from app.media.fmp4) to a
RenditionPackager. It writes the init segment, every part as its own file, each whole segment
(the concatenation of its parts) and the media playlist, always replaced atomically, and tells
listeners (the blocking-reload endpoint) about each new part. With a mirror (app.storage.mirror,
STORAGE_BACKEND=s3) every file also goes to the bucket right after it is written, and deleted
files leave it; the announcement of a part then waits until the part and the playlist listing
it are stored.

Names inside a rendition's directory: init-<msn>.mp4 (the init segment of the run whose first
segment is <msn>), p<msn>.<part>.m4s (parts, named when hinted: see next_part_name), s<msn>.m4s
(segments), index.m3u8 (the playlist) and, when recording, recording.m3u8 (every segment of the
session, appended as each closes). Segments are dated by their media time (ProgramDates).

A restarted ffmpeg (a lighter ladder, a publisher who reconnected, a worker that took over) gets a
new packager that resumes from the playlist on disk: media sequence numbers carry on, and the
first new segment carries EXT-X-DISCONTINUITY and its own EXT-X-MAP.
"""
from __future__ import annotations

import functools
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

from ..storage.atomic import write_atomic
from ..storage.mirror import Mirror, MirrorQueue
from .ffmpeg_args import PLAYLIST_NAME as PLAYLIST
from .playlist import (
    MediaPlaylist,
    Part,
    PreloadHint,
    RenditionReport,
    ServerControl,
    parse_media,
    parse_media_playlist,
)
from .playlist import Segment as Listed

log = logging.getLogger("app.media.llhls")

RECORDING = "recording.m3u8"
# Seconds a segment may differ from whole GOPs and still count as ending where one does: parts'
# durations are whole frames read from the fragments, so far less than a frame.
GOP_TOLERANCE = 0.002
VERSION = 9  # EXT-X-SKIP in delta updates needs 9; parts need 6


def init_name(msn: int) -> str:
    return f"init-{msn}.mp4"


def part_name(msn: int, index: int) -> str:
    return f"p{msn}.{index}.m4s"


def segment_name(msn: int) -> str:
    return f"s{msn}.m4s"


NUMBERED_NAME = re.compile(r"(?:init-|p|s)([0-9]+)\.")  # the three names above


def highest_msn(directory: Path) -> int:
    """The highest segment number any file in `directory` is named after (-1 for none): a
    rendition added to a running ladder must not reuse an earlier run's names there (recordings
    keep them)."""
    numbers = [int(match[1]) for path in directory.glob("*") if (match := NUMBERED_NAME.match(path.name))]
    return max(numbers, default=-1)


@dataclass
class Segment:
    msn: int
    started: datetime
    init: str
    # A part's index is its place here; its URI is the name it was hinted under
    # (RenditionPackager.next_part_name), so usually part_name(msn, index).
    parts: list[Part] = field(default_factory=list)
    complete: bool = False
    discontinuity: bool = False  # the first segment of a later run
    parts_expiring: bool = False  # its part files are due for deletion
    length: float | None = None  # for a segment resumed from disk, whose parts are not known

    @property
    def duration(self) -> float:
        return sum(part.duration for part in self.parts) if self.parts else (self.length or 0.0)


@dataclass(frozen=True)
class SegmentStart:
    """Where a segment of a leading rendition starts, for renditions added beside it later
    (app.media.llladder): they open the segment with the same number, the same program date
    and, first time, the same discontinuity sequence, as matching content in variants must."""

    msn: int
    started: datetime
    discontinuity_sequence: int


def part_target_for(frames_per_part: int, frame_rate: float) -> float:
    """PART-TARGET for parts of a whole number of frames, rounded up to the millisecond so that no
    part (players reject a part longer than the target) can exceed it."""
    if frames_per_part < 1 or frame_rate <= 0:
        raise ValueError("a part holds at least one frame of a positive frame rate")
    return math.ceil(frames_per_part / frame_rate * 1000) / 1000


class ProgramDates:
    """EXT-X-PROGRAM-DATE-TIME for each segment, from its media time.

    The tag dates a segment's first sample (§4.4.4.6), so the dates of consecutive segments
    differ by exactly their durations: the wall clock when the run's first segment opened, plus
    the media time since. (The moment a segment's first part reached the packager is not its
    date: it jitters by tens of milliseconds, and players that place segments on the timeline
    by date, Shaka Player among them, then find gaps and overlaps between them and stall.) The
    renditions of one ladder share ffmpeg's timeline and one ProgramDates, so a segment has the
    same date in each of them, as matching content in variants must. Dates are whole
    milliseconds, as written.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.clock = clock
        self._anchor: tuple[datetime, float] | None = None
        self._lock = threading.Lock()

    def date(self, start: float | None) -> datetime:
        """The date of a segment whose first sample decodes at `start` seconds (None: unknown,
        dated by the clock)."""
        now = self.clock()
        if start is None:
            return now
        with self._lock:
            if self._anchor is None:
                self._anchor = (now.replace(microsecond=now.microsecond // 1000 * 1000), start)
            wall, media = self._anchor
        return wall + timedelta(milliseconds=round((start - media) * 1000))


class WriteRefused(RuntimeError):
    """The packager may no longer write: its host lost the session's lease (app.live.lease)."""


class RenditionPackager:
    """Turns one rendition's fragments into LL-HLS files and a playlist.

    segment_min: a new segment starts at the first independent part once the current one
    holds at least this much (1-2 s). part_target: the declared PART-TARGET (see
    part_target_for). target_duration: the declared EXT-X-TARGETDURATION (whole seconds, at
    least any segment's duration rounded). window: how many segments the playlist lists.
    part_segments: for how many of the newest segments the playlist lists parts.
    guard: asked before every write; False (the host lost the session) raises WriteRefused.
    on_segment: told (start, SegmentStart) as each segment opens, `start` being its first part's
    decode time in seconds (a leading rendition's, for followers).
    follower: the rendition was added beside a leading one; its segments open only where the
    leader's do (add_part's `aligned`), with the leader's number and program date, and no
    number at or below `min_msn` (files an earlier run left in the directory).
    gop: the encoder's fixed GOP in seconds, when it has one (our ladders, not a passthrough of
    the publisher's keyframes). A segment then closes with the part that completes its last
    GOP, not when the next keyframe arrives: the playlist lists it whole at once and hints the
    next segment's first part, which is the part that comes next (a hint naming the part after
    the last one of a segment would name a part that never exists).
    dates: dates segments (ProgramDates); a ladder's renditions share one.
    """

    def __init__(self, directory: Path, *, part_target: float, segment_min: float,
                 target_duration: int, window: int = 10, part_segments: int = 3, record: bool = True,
                 on_part: Callable[[int, int], None] | None = None,
                 reports: Callable[[], Sequence[RenditionReport]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 mirror: Mirror | MirrorQueue | None = None,
                 guard: Callable[[], bool] | None = None,
                 on_segment: Callable[[float, SegmentStart], None] | None = None,
                 follower: bool = False, min_msn: int = -1, gop: float | None = None,
                 dates: ProgramDates | None = None):
        if target_duration < math.ceil(segment_min):
            raise ValueError("TARGETDURATION must cover the minimum segment duration")
        if not 1 <= part_segments <= window:
            raise ValueError("parts are listed for some of the listed segments")
        self.directory = Path(directory)
        self.part_target = part_target
        self.segment_min = segment_min
        self.target_duration = target_duration
        self.window = window
        self.part_segments = part_segments
        self.on_part = on_part
        self.reports = reports
        self.clock = clock
        self.record = record
        self.mirror = mirror
        self.guard = guard
        self.on_segment = on_segment
        self.follower = follower
        self.min_msn = min_msn
        self.gop = gop
        self.dates = dates or ProgramDates(clock)
        self.longest = 0.0  # the longest segment this packager closed, in seconds
        self.segments: list[Segment] = []
        self.ended = False
        self.init: str | None = None
        self.discontinuity_sequence = 0
        self._next_msn = 0
        self._resumed = False  # the next segment starts a new run after an earlier one
        self._expiring: list[tuple[datetime, list[Path]]] = []
        self._recorded_init: str | None = None
        playlist = self.directory / PLAYLIST
        if playlist.exists():
            self._resume(playlist.read_text())

    @property
    def has_init(self) -> bool:
        return self.init is not None

    @property
    def next_part_name(self) -> str:
        """The name of the next part, which the playlist hints (EXT-X-PRELOAD-HINT).

        The next part of the open segment, or the first of the next segment when none is open.
        A part is named when it is hinted, because players request the hint before the part
        exists: while a segment is open, whether the next part continues it or, starting with
        a keyframe, opens the next segment is only known once the part arrives (a publisher's
        keyframes come when they come), so a part that opens a segment keeps the name it was
        hinted under (p12.6.m4s, say, listed as segment 13's first part). Names stay unique:
        a segment's number and part count only grow.
        """
        if self.segments and not self.segments[-1].complete:
            current = self.segments[-1]
            return part_name(current.msn, len(current.parts))
        return part_name(self._next_msn, 0)

    @property
    def segment_open(self) -> bool:
        """Whether a segment is taking parts (the next part may continue it)."""
        return bool(self.segments) and not self.segments[-1].complete

    def _resume(self, text: str) -> None:
        """Carry on after an earlier run's playlist: its segments stay listed (without their
        parts), numbering continues after them, and every part file on disk is due for deletion
        in three target durations. A segment the earlier run left open (its worker died) is
        closed from the parts it had listed: players may hold them, so its number stays its own."""
        earlier = parse_media(text)
        self.discontinuity_sequence = earlier.discontinuity_sequence
        msn = earlier.media_sequence
        for listed in earlier.segments:
            segment = Segment(msn=msn, started=listed.date or self.clock(), init=listed.map or "",
                              discontinuity=listed.discontinuity, parts_expiring=True)
            if listed.uri is not None:
                segment.complete, segment.length = True, listed.duration or 0.0
            else:
                segment.parts = list(listed.parts)
                self._close(segment)
                segment.length, segment.parts = segment.duration, []
            self.segments.append(segment)
            msn += 1
        self._next_msn = msn
        self._resumed = msn > 0
        self._expiring.append((self._due(), sorted(self.directory.glob("p*.m4s"))))

    # --- input -----------------------------------------------------------------------------------

    def add_init(self, data: bytes) -> None:
        # Named after the run's first segment; a follower's is not known yet, but numbers past
        # min_msn are its own.
        name = init_name(max(self._next_msn, self.min_msn + 1))
        self._write(self.directory / name, data)
        self.init = name

    def add_part(self, data: bytes, duration: float, independent: bool, *, start: float | None = None,
                 aligned: SegmentStart | None = None) -> tuple[int, int] | None:
        """Store one part; returns its (msn, part index) once the playlist lists it. `start` is its
        decode time in seconds; a follower's `aligned` is the leader's segment starting there. A
        follower drops parts until the first aligned one (returns None)."""
        if not self.has_init:
            raise ValueError("the init segment comes before any part")
        if self.ended:
            raise ValueError("the rendition has ended")
        if duration <= 0:
            raise ValueError("a part lasts some time")
        if duration > self.part_target + 1e-6:
            log.warning("part of %.3f s is longer than PART-TARGET %.3f s", duration, self.part_target)
        # The name the playlist hinted, whichever segment the part opens. Before the first part
        # nothing was hinted: a follower's first segment is numbered after the leader's.
        hinted = self.next_part_name if self.segments else None
        current = self.segments[-1] if self.segments and not self.segments[-1].complete else None
        if self.follower:
            current = self._follow(current, independent, aligned)
            if current is None:
                return None
        else:
            if current is None and not independent:
                if not self.segments or self.gop is None:
                    raise ValueError("a segment must start with an independent part")
                # The encoder broke its fixed GOP after a segment closed with its last GOP: carry
                # on (a segment that starts without a keyframe beats a stream that stops), and
                # close segments at keyframes from now on.
                log.error("%s: no keyframe where the fixed GOP of %.3f s puts one; segments close "
                          "at keyframes from now on", self.directory.name, self.gop)
                self.gop = None
            if current is not None and independent and current.duration >= self.segment_min - 1e-6:
                self._close(current)
                current = None
            if current is None:
                current = self._open(self._next_msn, self.dates.date(start))
                if self.on_segment is not None and start is not None:
                    self.on_segment(start, SegmentStart(current.msn, current.started, self._sequence_of(current)))
        index = len(current.parts)
        part = Part(duration, hinted or part_name(current.msn, index), independent)
        self._write(self.directory / part.uri, data)
        current.parts.append(part)
        if self._completes_gop(current):
            self._close(current)
        self._write_playlist()
        if self.on_part:
            announce = functools.partial(self.on_part, current.msn, index)
            if self.mirror is not None:
                self.mirror.then(announce)  # once the part and its playlist are in the bucket
            else:
                announce()
        return current.msn, index

    def _completes_gop(self, segment: Segment) -> bool:
        """Whether `segment`, long enough to close, now holds whole GOPs of a fixed GOP: it
        started at a keyframe, so the next part starts with one and belongs to the next segment."""
        if self.gop is None or self.follower or segment.duration < self.segment_min - 1e-6:
            return False
        gops = segment.duration / self.gop
        return abs(gops - round(gops)) * self.gop < GOP_TOLERANCE

    def _open(self, msn: int, started: datetime) -> Segment:
        # add_part, the only way here, refuses parts before the init segment.
        segment = Segment(msn=msn, started=started, init=cast(str, self.init), discontinuity=self._resumed)
        self._next_msn = msn + 1
        self._resumed = False
        self.segments.append(segment)
        return segment

    def _sequence_of(self, segment: Segment) -> int:
        """The discontinuity sequence number of a listed segment."""
        return self.discontinuity_sequence + sum(
            1 for s in self.segments if s.discontinuity and s.msn <= segment.msn)

    def _follow(self, current: Segment | None, independent: bool,
                aligned: SegmentStart | None) -> Segment | None:
        """A follower's segment for its next part: a new one where the leader's starts."""
        if aligned is None or not independent:
            return current  # None until the first aligned part: nothing to show yet
        if aligned.msn <= self.min_msn or aligned.msn < self._next_msn:
            raise ValueError(f"segment {aligned.msn} of the leading rendition is behind this one's "
                             f"({max(self.min_msn + 1, self._next_msn)})")
        if current is not None:
            self._close(current)
        elif not self.segments:
            self.discontinuity_sequence = aligned.discontinuity_sequence
        return self._open(aligned.msn, aligned.started)

    def close(self) -> None:
        """This run stopped but the stream goes on (a restart follows): close the open segment and
        keep the playlist live, hinting the next segment's first part."""
        if self.segments and not self.segments[-1].complete:
            self._close(self.segments[-1])
            self._write_playlist()

    def finish(self) -> None:
        """The stream ended: close the last segment and end the playlist."""
        if self.segments and not self.segments[-1].complete:
            self._close(self.segments[-1])
        self.ended = True
        self._write_playlist()

    # --- output ----------------------------------------------------------------------------------

    @property
    def last(self) -> tuple[int, int] | None:
        """(MSN, part index) of the newest part listed, for rendition reports."""
        for segment in reversed(self.segments):
            if segment.parts:
                return segment.msn, len(segment.parts) - 1
        return None

    def _write(self, path: Path, data: bytes | Callable[[BinaryIO], object]) -> None:
        """Write a file atomically, then mirror it (a playlist as the very bytes written)."""
        if self.guard is not None and not self.guard():
            raise WriteRefused(f"{self.directory.name}: this host no longer owns the session")
        write_atomic(path, data)
        if self.mirror is not None:
            self.mirror.put(path, data if isinstance(data, bytes) else None)

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        if self.mirror is not None:
            self.mirror.remove(path)

    def _close(self, segment: Segment) -> None:
        def concatenate(out: BinaryIO) -> None:
            for part in segment.parts:
                out.write((self.directory / part.uri).read_bytes())
        self._write(self.directory / segment_name(segment.msn), concatenate)
        segment.complete = True
        if segment.parts:
            self.longest = max(self.longest, segment.duration)
        if segment.duration > self.target_duration + 0.5:
            log.warning("segment %d lasts %.3f s, over TARGETDURATION %d", segment.msn,
                        segment.duration, self.target_duration)
        if self.record:
            self._append_recording(segment)

    def _append_recording(self, segment: Segment) -> None:
        """recording.m3u8 lists every segment of the session for the VOD job, which ends it."""
        path = self.directory / RECORDING
        lines = []
        first = not path.exists()
        if first:
            lines = MediaPlaylist(version=VERSION, playlist_type="EVENT", target_duration=self.target_duration,
                                  media_sequence=segment.msn).header()
        self._recorded_init = Listed(segment_name(segment.msn), segment.duration, segment.started, segment.init,
                                     segment.discontinuity and not first).render(lines, self._recorded_init)
        with open(path, "a", encoding="ascii") as out:
            out.write("\n".join(lines) + "\n")
        if self.mirror is not None:
            # The bucket's copy of the recording list grows with it, not only at the session's
            # end: what a dead worker's host recorded is listed there too.
            self.mirror.put(path, path.read_bytes())

    def _listed(self) -> list[Segment]:
        return self.segments[-self.window:]

    def _write_playlist(self) -> None:
        self._trim()
        self._write(self.directory / PLAYLIST, self.render().encode())
        self._expire_files()

    def _trim(self) -> None:
        """Forget the segments that leave the playlist (without this the list, and the loops over
        it on every part, would grow all stream long), scheduling their files' deletion."""
        dropped = self.segments[:-self.window]
        if not dropped:
            return
        del self.segments[:-self.window]
        self.discontinuity_sequence += sum(1 for segment in dropped if segment.discontinuity)
        self._schedule_parts(dropped)
        if not self.record:
            self._expiring.append((self._due(), [self.directory / segment_name(s.msn) for s in dropped]))

    def _due(self) -> datetime:
        return self.clock() + timedelta(seconds=3 * self.target_duration)

    def _schedule_parts(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            if segment.complete and not segment.parts_expiring:
                segment.parts_expiring = True
                self._expiring.append((self._due(), [self.directory / part.uri
                                                     for part in segment.parts]))

    def _expire_files(self) -> None:
        """Part files leave the playlist with their segment's parts, and the disk three target
        durations later, so a player that just read an older playlist can still fetch them."""
        self._schedule_parts(self._listed()[:-self.part_segments])
        now = self.clock()
        keep = []
        for due, files in self._expiring:
            if due <= now:
                for path in files:
                    self._delete(path)
            else:
                keep.append((due, files))
        self._expiring = keep

    def server_control(self) -> ServerControl:
        return ServerControl(can_block_reload=True, can_skip_until=6 * self.target_duration,
                             part_hold_back=3 * self.part_target, hold_back=3 * self.target_duration)

    def playlist(self) -> MediaPlaylist:
        """The live playlist as it stands: parts for the newest `part_segments` segments; once
        ended, no parts, hint or reports."""
        listed = self._listed()
        live = not self.ended
        with_parts = listed[-self.part_segments:] if live else []
        first_with_parts = with_parts[0].msn if with_parts else None
        segments = [Listed(segment_name(segment.msn) if segment.complete else None, segment.duration,
                           segment.started, segment.init, segment.discontinuity,
                           segment.parts if first_with_parts is not None and segment.msn >= first_with_parts
                           else ())
                    for segment in listed]
        return MediaPlaylist(
            version=VERSION, target_duration=self.target_duration, server_control=self.server_control(),
            part_target=self.part_target, media_sequence=listed[0].msn if listed else self._next_msn,
            discontinuity_sequence=self.discontinuity_sequence, segments=segments,
            preload_hint=PreloadHint(self.next_part_name) if live else None,
            rendition_reports=(self.reports() if self.reports else ()) if live else (), ended=self.ended)

    def render(self) -> str:
        return self.playlist().render()


def end_playlist(directory: Path, *, record: bool = True) -> bool:
    """End the live playlist in `directory` that a run left open (its worker died, or the session
    ended while ffmpeg was stopped): its open segment is closed and EXT-X-ENDLIST added.
    False when there is nothing to end."""
    try:
        state = parse_media_playlist((Path(directory) / PLAYLIST).read_text())
    except FileNotFoundError:
        return False
    if state.ended or state.part_target is None or state.target_duration is None:
        return False  # ended already, or not ours (ffmpeg's classic playlists have no parts)
    RenditionPackager(directory, part_target=state.part_target, segment_min=0.0,
                      target_duration=int(state.target_duration), record=record).finish()
    return True
