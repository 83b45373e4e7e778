"""A whole ladder in LL-HLS: one pipe per rung from the one ffmpeg, a packager per rung, the master.

ffmpeg writes each rung as fragmented CMAF MP4 to its own pipe (ffmpeg_args.ll_output_args);
a reader thread per pipe turns the bytes into parts (app.media.fmp4) for that rung's
RenditionPackager (app.media.llhls). Every playlist reports the other rungs' live edges, and the
master playlist is written once every rung's init segment (its CODECS) is known. Rungs live in
directories named after them (720p/, 480p/), as the classic muxer's do, so a restart with a
lighter ladder keeps every remaining rung's playlist going. With a mirror (STORAGE_BACKEND=s3)
each rung uploads through its own ordered queue (app.media.mirror.MirrorQueue), so a slow store
never stalls a pipe, and a part is announced only once it and its playlist are in the bucket.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

from .atomic import write_atomic
from .ffmpeg_args import MASTER_NAME as MASTER
from .ffmpeg_args import PartPlan
from .fmp4 import InitSegment, read_fragments
from .ladder import Rung
from .llhls import PLAYLIST, RenditionPackager, RenditionReport, WriteRefused
from .mirror import Mirror, MirrorQueue, close_all

log = logging.getLogger("app.media.llladder")


def master_playlist(rungs: Sequence[Rung], codecs: Sequence[str]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung, codec in zip(rungs, codecs):
        lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={rung.bandwidth},RESOLUTION={rung.width}x{rung.height},'
                     f'CODECS="{codec}",FRAME-RATE={rung.fps:.3f}')
        lines.append(f"{rung.name}/{PLAYLIST}")
    return "\n".join(lines) + "\n"


class LadderPackager:
    """Owns the pipes and packagers of one live ladder under `out`.

    Call `open_pipes()` before starting ffmpeg (pass `write_fds` as pass_fds and to
    ll_output_args), `start()` after, and once ffmpeg has exited `close()` (a restart follows,
    whose packagers resume from the playlists) or `finish()` (the stream ended).
    `announce(rung_name, msn, part)` is called after each part is listed (Redis publish), and
    with a `mirror` after the part and that playlist are stored too.
    """

    def __init__(self, out: Path, rungs: Sequence[Rung], plans: Sequence[PartPlan], *,
                 target_duration: int, record: bool = True,
                 announce: Callable[[str, int, int], None] | None = None,
                 mirror: Mirror | None = None, segment_min: float | None = None,
                 guard: Callable[[], bool] | None = None,
                 on_playable: Callable[[], None] | None = None):
        self.out = Path(out)
        self.on_playable = on_playable
        self.guard = guard
        self.playable = False
        # The first segment number of this run per rung: playable once each has closed one.
        self._first_msn: list[int | None] = [None] * len(rungs)
        self.rungs = list(rungs)
        self.inits: list[InitSegment | None] = [None] * len(self.rungs)
        self.errors: list[str] = []
        self.master_written = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.read_fds: list[int] = []
        self.write_fds: list[int] = []
        self.packagers = []
        # One ordered upload queue per rung: rungs never wait on each other's uploads.
        self.queues = [MirrorQueue(mirror, rung.name) for rung in self.rungs] if mirror else []
        for index, plan in enumerate(plans):
            name = self.rungs[index].name
            (self.out / name).mkdir(parents=True, exist_ok=True)
            self.packagers.append(RenditionPackager(
                self.out / name, part_target=plan.part_target,
                segment_min=segment_min if segment_min is not None
                else plan.gop_frames / self.rungs[index].fps - 0.01,
                target_duration=target_duration, record=record, guard=guard,
                on_part=(lambda msn, part, name=name: announce(name, msn, part)) if announce else None,
                reports=lambda index=index: self.reports(index),
                mirror=self.queues[index] if self.queues else None))

    def open_pipes(self) -> list[int]:
        for _ in self.rungs:
            read_fd, write_fd = os.pipe()
            self.read_fds.append(read_fd)
            self.write_fds.append(write_fd)
        return self.write_fds

    def start(self) -> None:
        """Close our copies of the write ends (ffmpeg holds them now) and read every pipe."""
        for fd in self.write_fds:
            os.close(fd)
        self.write_fds = []
        for index, fd in enumerate(self.read_fds):
            thread = threading.Thread(target=self._read, args=(index, fd), daemon=True,
                                      name=f"llhls-{self.rungs[index].name}")
            thread.start()
            self._threads.append(thread)

    def reports(self, index: int) -> list[RenditionReport]:
        found = []
        for other, packager in enumerate(self.packagers):
            last = packager.last if other != index else None
            if last is not None:
                found.append(RenditionReport(f"../{self.rungs[other].name}/{PLAYLIST}", *last))
        return found

    def _read(self, index: int, fd: int) -> None:
        packager = self.packagers[index]
        try:
            with os.fdopen(fd, "rb", buffering=0) as pipe:
                for item in read_fragments(pipe):
                    with self._lock:  # reports read the other packagers' edges
                        if isinstance(item, InitSegment):
                            packager.add_init(item.data)
                            self.inits[index] = item
                            self._maybe_write_master(index)
                        elif not item.has_primary and self._first_msn[index] is None:
                            continue  # audio before the run's first picture: nothing to show yet
                        else:
                            msn, _ = packager.add_part(item.data, item.duration, item.independent)
                            self._check_playable(index, msn)
        except Exception as error:  # a broken pipe or stream must not kill the worker's loop
            log.exception("rung %s: packaging stopped", self.rungs[index].name)
            self.errors.append(f"{self.rungs[index].name}: {error}")

    def _check_playable(self, index: int, msn: int) -> None:
        """Once the master is out and every rung has closed a segment of this run, players can
        start: tell `on_playable` (once per run)."""
        if self.playable:
            return
        if self._first_msn[index] is None:
            self._first_msn[index] = msn
        elif msn > self._first_msn[index]:
            self._first_msn[index] = -1  # closed one
        if self.master_written and all(first == -1 for first in self._first_msn):
            self.playable = True
            if self.on_playable is not None:
                self.on_playable()

    @property
    def longest_segment(self) -> float:
        return max((packager.longest for packager in self.packagers), default=0.0)

    def _maybe_write_master(self, index: int) -> None:
        """Once per run, when the last rung's init arrives (a lighter ladder after a restart
        replaces the earlier run's master)."""
        if all(self.inits) and not self.master_written:
            if self.guard is not None and not self.guard():
                raise WriteRefused("master: this host no longer owns the session")
            text = master_playlist(self.rungs, [init.codecs for init in self.inits]).encode()
            write_atomic(self.out / MASTER, text)
            if self.queues:
                self.queues[index].put(self.out / MASTER, text)  # after this rung's init
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
