"""A whole ladder in LL-HLS: one pipe per rung from the one ffmpeg, a packager per rung, the master.

ffmpeg writes each rung as fragmented CMAF MP4 to its own pipe (ffmpeg_args.ll_output_args);
a reader thread per pipe turns the bytes into parts (app.media.fmp4) for that rung's
RenditionPackager (app.media.llhls). Every playlist reports the other rungs' live edges, and the
master playlist is written once every rung's init segment (its CODECS) is known. Rungs live in
directories named after them (720p/, 480p/), as the classic muxer's do, so a restart with a
lighter ladder keeps every remaining rung's playlist going. With a mirror (STORAGE_BACKEND=s3)
each rung uploads through its own ordered queue (app.storage.mirror.MirrorQueue), so a slow store
never stalls a pipe, and a part is announced only once it and its playlist are in the bucket.

A running ladder can gain renditions from a second ffmpeg (`extend`): a passthrough session that
gets lower qualities once capacity frees. The first rung leads: the added ones (followers) cut
their segments where its segments start (the second ffmpeg forces keyframes where the source has
them, and both keep the source's timestamps), with the same numbers and program dates, so a player
switching between them finds the same content under the same numbers. The master lists them once
each has closed a segment; `drop_extension` takes them out again.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..storage.atomic import write_atomic
from ..storage.mirror import Mirror, MirrorQueue, close_all
from .ffmpeg_args import MASTER_NAME as MASTER
from .ffmpeg_args import PLAYLIST_NAME as PLAYLIST
from .ffmpeg_args import PartPlan
from .fmp4 import InitSegment, read_fragments
from .ladder import Rung
from .llhls import ProgramDates, RenditionPackager, SegmentStart, WriteRefused, highest_msn
from .playlist import MasterPlaylist, RenditionReport, Variant

log = logging.getLogger("app.media.llladder")

# A follower's keyframe matches the leader's segment starting within this of it: segments are at
# least a second apart, and a copied source's decode times may sit a few frames off an encode's.
ALIGN_TOLERANCE = 0.25
ALIGN_WAIT = 2.0  # seconds a follower waits for the leader to reach one of its keyframes
# A live run starts behind the publisher: the relay hands the encoder the stream from the keyframe
# it holds (so the recording starts at a picture), and the encoder works that head off faster than
# real time for its first seconds. A player joining meanwhile places itself behind an edge that is
# late, and hls.js and Shaka keep that distance for good by default (they never speed up). So a
# paced (live) run is playable only once the leading rung's last PACE_PARTS parts came at the
# stream's own pace (at least PACE of their media duration apart), or PACE_LIMIT seconds after its
# first part on a box that cannot catch up.
PACE_PARTS = 3
PACE = 0.8
PACE_LIMIT = 5.0


def live_master_playlist(rungs: Sequence[Rung], codecs: Sequence[str], *, closed_captions: bool = False) -> str:
    """The multivariant playlist. Without captions in the source every variant says
    CLOSED-CAPTIONS=NONE (§4.4.6.2): players then do not fetch segments at startup to look for
    them (Shaka Player's search for them fails on a live playlist that is only seconds old)."""
    captions = None if closed_captions else "NONE"
    return MasterPlaylist([Variant(f"{rung.name}/{PLAYLIST}", rung.bandwidth, resolution=(rung.width, rung.height),
                                   codecs=codec, frame_rate=rung.fps, closed_captions=captions)
                           for rung, codec in zip(rungs, codecs)], version=9).render()


class LadderPackager:
    """Owns the pipes and packagers of one live ladder under `out`.

    Call `open_pipes()` before starting ffmpeg (pass `write_fds` as pass_fds and to
    ll_output_args), `start()` after, and once ffmpeg has exited `close()` (a restart follows,
    whose packagers resume from the playlists) or `finish()` (the stream ended).
    `announce(rung_name, msn, part)` is called after each part is listed (Redis publish), and
    with a `mirror` after the part and that playlist are stored too. `fixed_gop`: ffmpeg encodes
    every rung with its plan's fixed GOP (ll_transcode_args), so a segment closes with the part
    that ends its last GOP; False when the keyframes are the publisher's (a passthrough).
    `closed_captions`: the source carries captions (the master then does not deny them).
    `paced`: the input is live, so the run is playable only once it keeps the stream's pace
    (PACE_PARTS).
    """

    def __init__(self, out: Path, rungs: Sequence[Rung], plans: Sequence[PartPlan], *,
                 target_duration: int, record: bool = True,
                 announce: Callable[[str, int, int], None] | None = None,
                 mirror: Mirror | None = None, segment_min: float | None = None,
                 guard: Callable[[], bool] | None = None,
                 on_playable: Callable[[], None] | None = None, fixed_gop: bool = True,
                 closed_captions: bool = False, paced: bool = False):
        self.out = Path(out)
        self.paced = paced
        # The leading rung's latest parts this run, (time.monotonic() listed, media end), and when
        # it listed its first.
        self._leader_parts: deque[tuple[float, float]] = deque(maxlen=PACE_PARTS + 1)
        self._leader_first: float | None = None
        self.closed_captions = closed_captions
        self.on_playable = on_playable
        self.guard = guard
        self.announce = announce
        self.mirror = mirror
        self.target_duration = target_duration
        self.playable = False
        # The first segment number of this run per rung, -1 once it has closed that segment: the
        # ladder plays once every rung has, and added rungs are listed once each has.
        self._first_msn: list[int | None] = [None] * len(rungs)
        self.rungs = list(rungs)
        self.base = len(self.rungs)  # rungs from `extend` come after these
        self.inits: list[InitSegment | None] = [None] * len(self.rungs)
        self.errors: list[str] = []
        self.master_written = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.read_fds: list[int] = []
        self.write_fds: list[int] = []
        self.packagers: list[RenditionPackager] = []
        self.queues: list[MirrorQueue] = []
        # Where the leading rung's recent segments start (decode time, in seconds), for followers.
        self._starts: deque[tuple[float, SegmentStart]] = deque(maxlen=64)
        self._leader_edge = float("-inf")
        self._timeline = threading.Condition()
        # Every rung's segments are dated on ffmpeg's one timeline (added renditions take the
        # leader's dates with its segment numbers).
        self.dates = ProgramDates()
        for index, plan in enumerate(plans):
            gop = plan.gop_frames / self.rungs[index].fps
            self._add_packager(self.rungs[index], plan, segment_min=segment_min if segment_min is not None
                               else gop - 0.01, record=record,
                               on_segment=self._segment_opened if index == 0 else None,
                               gop=gop if fixed_gop else None, dates=self.dates)

    def _add_packager(self, rung: Rung, plan: PartPlan, *, segment_min: float, record: bool,
                      **options: Any) -> None:
        name = rung.name
        directory = self.out / name
        directory.mkdir(parents=True, exist_ok=True)
        # One ordered upload queue per rung: rungs never wait on each other's uploads.
        queue = MirrorQueue(self.mirror, name) if self.mirror else None
        if queue is not None:
            self.queues.append(queue)
        index = len(self.packagers)
        announce = self.announce
        self.packagers.append(RenditionPackager(
            directory, part_target=plan.part_target, segment_min=segment_min,
            target_duration=self.target_duration, record=record, guard=self.guard,
            on_part=partial(announce, name) if announce else None,
            reports=partial(self.reports, index), mirror=queue, **options))

    def open_pipes(self) -> list[int]:
        """A pipe for each rung that has none yet; returns their write ends."""
        for _ in self.rungs[len(self.read_fds):]:
            read_fd, write_fd = os.pipe()
            self.read_fds.append(read_fd)
            self.write_fds.append(write_fd)
        return self.write_fds

    def start(self) -> None:
        """Close our copies of the write ends (ffmpeg holds them now) and read every new pipe."""
        for fd in self.write_fds:
            os.close(fd)
        self.write_fds = []
        for index in range(len(self._threads), len(self.read_fds)):
            thread = threading.Thread(target=self._read, args=(index, self.read_fds[index]), daemon=True,
                                      name=f"llhls-{self.rungs[index].name}")
            thread.start()
            self._threads.append(thread)

    # --- renditions added to a running ladder ---------------------------------------------------

    @property
    def extension(self) -> list[Rung]:
        return self.rungs[self.base:]

    def extend(self, rungs: Sequence[Rung], plans: Sequence[PartPlan]) -> list[int]:
        """Add `rungs` beside the running ones, fed by another ffmpeg: returns the pipes it writes
        to (then call `start()`). They are not recorded; the master lists them once each has closed
        a segment. A stale playlist an earlier run left in a rung's directory is replaced."""
        with self._lock:
            if self.extension:
                raise RuntimeError("the ladder has added renditions already")
            if not self.playable:
                raise RuntimeError("renditions are added to a ladder that plays")
            for rung, plan in zip(rungs, plans):
                directory = self.out / rung.name
                directory.mkdir(parents=True, exist_ok=True)
                (directory / PLAYLIST).unlink(missing_ok=True)
                self.rungs.append(rung)
                self.inits.append(None)
                self._first_msn.append(None)  # its first segment, until it closes one
                self._add_packager(rung, plan, segment_min=0.0, record=False, follower=True,
                                   min_msn=highest_msn(directory))
            self.master_written = False  # rewritten with the added renditions
        return self.open_pipes()

    def drop_extension(self, timeout: float = 10.0) -> None:
        """Take the added renditions out (their ffmpeg has stopped): the master lists the first
        rungs again, and the added playlists stop where they are."""
        for thread in self._threads[self.base:]:
            thread.join(timeout)
        for fd in self.write_fds + self.read_fds[len(self._threads):]:
            os.close(fd)
        self.write_fds = []
        with self._lock:
            added = self.packagers[self.base:]
            queues = self.queues[self.base:]  # a queue per rung, in order, with a mirror
            for packager in added:
                if packager.has_init and not packager.ended:
                    packager.close()
            del self.rungs[self.base:], self.packagers[self.base:], self.inits[self.base:]
            del self._first_msn[self.base:], self.read_fds[self.base:], self._threads[self.base:]
            del self.queues[self.base:]
            self.master_written = False
            self._maybe_write_master(0)
        close_all(queues, timeout)

    def reports(self, index: int) -> list[RenditionReport]:
        found = []
        for other, packager in enumerate(self.packagers):
            last = packager.last if other != index else None
            if last is not None:
                found.append(RenditionReport(f"../{self.rungs[other].name}/{PLAYLIST}", *last))
        return found

    def _read(self, index: int, fd: int) -> None:
        packager = self.packagers[index]
        follower = index >= self.base
        try:
            with os.fdopen(fd, "rb", buffering=0) as pipe:
                for item in read_fragments(pipe):
                    if isinstance(item, InitSegment):
                        with self._lock:
                            packager.add_init(item.data)
                            self.inits[index] = item
                            self._maybe_write_master(index)
                        continue
                    if not item.has_primary and not follower and not packager.segment_open:
                        # Audio with no segment to hold it: before the run's first picture, or
                        # the tail ffmpeg flushes after its last one (a fixed-GOP segment closes
                        # with its last picture).
                        continue
                    # Outside the lock: the leader must go on while a follower waits for it.
                    aligned = self._aligned(item.start) if follower and item.independent else None
                    with self._lock:  # reports read the other packagers' edges
                        listed = packager.add_part(item.data, item.duration, item.independent,
                                                   start=item.start, aligned=aligned)
                        if listed is None:
                            continue  # a follower before its first aligned keyframe
                        if index == 0 and not self.playable:
                            self._leader_listed(item.start + item.duration)
                        if follower:
                            if self._first_msn[index] != -1 and self._closed_first(index, listed[0]):
                                self._maybe_write_master(index)
                        elif not self.playable:
                            self._closed_first(index, listed[0])
                            self._check_playable()
                    if index == 0:
                        with self._timeline:
                            self._leader_edge = item.start + item.duration
                            self._timeline.notify_all()
        except Exception as error:  # a broken pipe or stream must not kill the worker's loop
            log.exception("rung %s: packaging stopped", self.rungs[index].name)
            self.errors.append(f"{self.rungs[index].name}: {error}")

    def _closed_first(self, index: int, msn: int) -> bool:
        """Whether rung `index` has closed the first segment of its run, now that it lists a part
        of segment `msn`. Players treat a live playlist with parts but no whole segment as empty
        (hls.js: levelEmptyError), so nothing is offered before."""
        first = self._first_msn[index]
        if first is None:
            self._first_msn[index] = msn
        elif msn > first:
            self._first_msn[index] = -1
        return self._first_msn[index] == -1

    @property
    def extension_listed(self) -> bool:
        """Whether the master lists the added renditions."""
        return bool(self.extension) and self.master_written

    def _segment_opened(self, start: float, where: SegmentStart) -> None:
        with self._timeline:
            self._starts.append((start, where))
            self._timeline.notify_all()

    def _aligned(self, start: float) -> SegmentStart | None:
        """The leader's segment starting at `start` (a follower's keyframe), once the leader has
        got that far (waiting up to ALIGN_WAIT); None when no segment of the leader starts there."""
        with self._timeline:
            self._timeline.wait_for(lambda: self._leader_edge > start + ALIGN_TOLERANCE, ALIGN_WAIT)
            found = [where for begins, where in self._starts if abs(begins - start) <= ALIGN_TOLERANCE]
        return found[-1] if found else None

    def _leader_listed(self, media_end: float) -> None:
        now = time.monotonic()
        if self._leader_first is None:
            self._leader_first = now
        self._leader_parts.append((now, media_end))

    def _caught_up(self) -> bool:
        """The run keeps the stream's pace (see PACE_PARTS), or has tried for PACE_LIMIT."""
        if not self.paced:
            return True
        parts = self._leader_parts
        if not parts:
            return False
        if self._leader_first is not None and parts[-1][0] - self._leader_first >= PACE_LIMIT:
            return True
        if len(parts) < (parts.maxlen or 0):
            return False
        (first_at, first_end), (last_at, last_end) = parts[0], parts[-1]
        return last_at - first_at >= PACE * (last_end - first_end)

    def _check_playable(self) -> None:
        """Once the master is out, every rung has closed a segment of this run and the run keeps
        the stream's pace, players can start: tell `on_playable` (once per run)."""
        if self.master_written and all(first == -1 for first in self._first_msn) and self._caught_up():
            self.playable = True
            if self.on_playable is not None:
                self.on_playable()

    @property
    def longest_segment(self) -> float:
        return max((packager.longest for packager in self.packagers), default=0.0)

    def _maybe_write_master(self, index: int) -> None:
        """Once per run, when the last rung's init arrives (a lighter ladder after a restart
        replaces the earlier run's master), and again once added renditions have parts out."""
        added_out = all(first == -1 for first in self._first_msn[self.base:])
        if all(self.inits) and not self.master_written and added_out:
            if self.guard is not None and not self.guard():
                raise WriteRefused("master: this host no longer owns the session")
            text = live_master_playlist(self.rungs, [init.codecs for init in self.inits if init is not None],
                                   closed_captions=self.closed_captions).encode()
            write_atomic(self.out / MASTER, text)
            if self.queues:
                self.queues[index].put(self.out / MASTER, text)  # after this rung's init or part
            self.master_written = True

    def close(self, timeout: float = 10.0) -> None:
        """ffmpeg exited and another run will follow: close every open segment."""
        self._end(timeout, lambda packager: packager.close())

    def finish(self, timeout: float = 10.0) -> None:
        """The stream ended: close every open segment and end every playlist."""
        self._end(timeout, lambda packager: packager.finish())

    def _end(self, timeout: float, how: Callable[[RenditionPackager], None]) -> None:
        for thread in self._threads:
            thread.join(timeout)
        for fd in self.write_fds + self.read_fds[len(self._threads):]:
            os.close(fd)  # pipes of a run that never started
        self.write_fds = []
        with self._lock:
            for packager in self.packagers:
                if packager.has_init and not packager.ended:
                    how(packager)
        close_all(self.queues, timeout)  # the last playlists reach the bucket before we return
        for queue in self.queues:
            log.info("rung %s: %d uploads, %d failed, longest wait %.0f ms", queue.name, queue.done,
                     queue.failures, queue.max_lag * 1000)
        if self.queues:
            for packager in self.packagers:
                packager.mirror = None  # its queue is closed; nothing more is written live
        self.queues = []
