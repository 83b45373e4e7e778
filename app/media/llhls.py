"""LL-HLS packaging of one rendition: CMAF fragments in, parts, segments and a media playlist out.

The transcode worker feeds each rung's fMP4 fragments (one per part, from app.media.fmp4) to a
RenditionPackager. It writes the init segment, every part as its own file, each whole segment
(the concatenation of its parts) and the media playlist, always replaced atomically, and tells
listeners (the blocking-reload endpoint) about each new part. Not wired into the worker yet.

Names inside a rendition's directory: init.mp4, p<msn>.<part>.m4s (parts), s<msn>.m4s (segments),
index.m3u8 (the playlist).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Sequence

from .atomic import write_atomic
from .ffmpeg_args import PLAYLIST_NAME as PLAYLIST

log = logging.getLogger("app.media.llhls")

INIT = "init.mp4"
VERSION = 9  # EXT-X-SKIP in delta updates needs 9; parts need 6


def part_name(msn: int, index: int) -> str:
    return f"p{msn}.{index}.m4s"


def segment_name(msn: int) -> str:
    return f"s{msn}.m4s"


@dataclass
class Part:
    index: int
    duration: float
    independent: bool

    def uri(self, msn: int) -> str:
        return part_name(msn, self.index)


@dataclass
class Segment:
    msn: int
    started: datetime
    parts: list[Part] = field(default_factory=list)
    complete: bool = False
    parts_expiring: bool = False  # its part files are due for deletion

    @property
    def duration(self) -> float:
        return sum(part.duration for part in self.parts)


@dataclass(frozen=True)
class RenditionReport:
    uri: str
    last_msn: int
    last_part: int


def fmt(seconds: float) -> str:
    """A duration as playlists write it: milliseconds, without trailing zeros."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") if seconds % 1 else f"{seconds:.1f}"


def part_target_for(frames_per_part: int, frame_rate: float) -> float:
    """PART-TARGET for parts of a whole number of frames, rounded up to the millisecond so that no
    part (players reject a part longer than the target) can exceed it."""
    if frames_per_part < 1 or frame_rate <= 0:
        raise ValueError("a part holds at least one frame of a positive frame rate")
    return math.ceil(frames_per_part / frame_rate * 1000) / 1000


class RenditionPackager:
    """Turns one rendition's fragments into LL-HLS files and a playlist.

    segment_min: a new segment starts at the first independent part once the current one
    holds at least this much (1-2 s). part_target: the declared PART-TARGET (see
    part_target_for). target_duration: the declared EXT-X-TARGETDURATION (whole seconds, at
    least any segment's duration rounded). window: how many segments the playlist lists.
    part_segments: for how many of the newest segments the playlist lists parts.
    """

    def __init__(self, directory: Path, *, part_target: float, segment_min: float,
                 target_duration: int, window: int = 10, part_segments: int = 3,
                 on_part: Callable[[int, int], None] | None = None,
                 reports: Callable[[], Sequence[RenditionReport]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
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
        self.segments: list[Segment] = []
        self.ended = False
        self.has_init = False
        self._expiring: list[tuple[datetime, list[Path]]] = []

    # --- input -----------------------------------------------------------------------------------

    def add_init(self, data: bytes) -> None:
        write_atomic(self.directory / INIT, data)
        self.has_init = True

    def add_part(self, data: bytes, duration: float, independent: bool) -> tuple[int, int]:
        """Store one part; returns its (msn, part index) once the playlist lists it."""
        if not self.has_init:
            raise ValueError("the init segment comes before any part")
        if self.ended:
            raise ValueError("the rendition has ended")
        if duration <= 0:
            raise ValueError("a part lasts some time")
        if duration > self.part_target + 1e-6:
            log.warning("part of %.3f s is longer than PART-TARGET %.3f s", duration, self.part_target)
        current = self.segments[-1] if self.segments and not self.segments[-1].complete else None
        if current is None and not independent:
            raise ValueError("a segment must start with an independent part")
        if current is not None and independent and current.duration >= self.segment_min - 1e-6:
            self._close(current)
            current = None
        if current is None:
            msn = self.segments[-1].msn + 1 if self.segments else 0
            current = Segment(msn=msn, started=self.clock())
            self.segments.append(current)
        part = Part(index=len(current.parts), duration=duration, independent=independent)
        write_atomic(self.directory / part.uri(current.msn), data)
        current.parts.append(part)
        self._write_playlist()
        if self.on_part:
            self.on_part(current.msn, part.index)
        return current.msn, part.index

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
                return segment.msn, segment.parts[-1].index
        return None

    def _close(self, segment: Segment) -> None:
        def concatenate(out):
            for part in segment.parts:
                out.write((self.directory / part.uri(segment.msn)).read_bytes())
        write_atomic(self.directory / segment_name(segment.msn), concatenate)
        segment.complete = True
        if segment.duration > self.target_duration + 0.5:
            log.warning("segment %d lasts %.3f s, over TARGETDURATION %d", segment.msn,
                        segment.duration, self.target_duration)

    def _listed(self) -> list[Segment]:
        return self.segments[-self.window:]

    def _write_playlist(self) -> None:
        write_atomic(self.directory / PLAYLIST, self.render().encode())
        self._expire_parts()

    def _expire_parts(self) -> None:
        """Part files leave the playlist with their segment's parts, and the disk three target
        durations later, so a player that just read an older playlist can still fetch them."""
        listed_with_parts = {s.msn for s in self._listed()[-self.part_segments:]}
        now = self.clock()
        for segment in self.segments:
            if segment.complete and segment.msn not in listed_with_parts and not segment.parts_expiring:
                segment.parts_expiring = True
                files = [self.directory / part.uri(segment.msn) for part in segment.parts]
                self._expiring.append((now + timedelta(seconds=3 * self.target_duration), files))
        # Segments that left the playlist (their parts are scheduled above) are no longer needed:
        # without this the list, and this loop over it on every part, would grow all stream long.
        del self.segments[:-self.window]
        keep = []
        for due, files in self._expiring:
            if due <= now:
                for path in files:
                    path.unlink(missing_ok=True)
            else:
                keep.append((due, files))
        self._expiring = keep

    def server_control(self) -> str:
        part_hold_back = 3 * self.part_target
        return (f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={fmt(6 * self.target_duration)},"
                f"PART-HOLD-BACK={fmt(part_hold_back)},HOLD-BACK={fmt(3 * self.target_duration)}")

    def render(self) -> str:
        listed = self._listed()
        lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", f"#EXT-X-TARGETDURATION:{self.target_duration}",
                 self.server_control(), f"#EXT-X-PART-INF:PART-TARGET={fmt(self.part_target)}",
                 f"#EXT-X-MEDIA-SEQUENCE:{listed[0].msn if listed else 0}", f'#EXT-X-MAP:URI="{INIT}"']
        with_parts = {s.msn for s in listed[-self.part_segments:]}
        for segment in listed:
            lines.append("#EXT-X-PROGRAM-DATE-TIME:"
                         + segment.started.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
            if segment.msn in with_parts and not self.ended:
                for part in segment.parts:
                    lines.append(f'#EXT-X-PART:DURATION={fmt(part.duration)},URI="{part.uri(segment.msn)}"'
                                 + (",INDEPENDENT=YES" if part.independent else ""))
            if segment.complete:
                lines.append(f"#EXTINF:{segment.duration:.3f},")
                lines.append(segment_name(segment.msn))
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
            return "\n".join(lines) + "\n"
        if listed:
            current = listed[-1]
            msn, index = (current.msn, len(current.parts)) if not current.complete else (current.msn + 1, 0)
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{part_name(msn, index)}"')
        for report in (self.reports() if self.reports else ()):
            lines.append(f'#EXT-X-RENDITION-REPORT:URI="{report.uri}",LAST-MSN={report.last_msn},'
                         f"LAST-PART={report.last_part}")
        return "\n".join(lines) + "\n"
