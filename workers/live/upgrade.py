"""Lower renditions added to a running LL-HLS passthrough once capacity frees.

A second ffmpeg pulls the same stream (through its own relay, from a keyframe), decodes it once
and encodes the lower rungs with keyframes exactly where the source has them and the source's
timestamps; the session's LadderPackager packages them beside the passthrough, segment for
segment (app.media.llladder.LadderPackager.extend). The passthrough never stops, so viewers see
no gap and the recording (the passthrough's) loses nothing; players that load the master
afterwards get ABR. The added rungs are not recorded. If their encode falls behind real time, or
ffmpeg fails, they are taken out again and the passthrough goes on alone.
"""
from __future__ import annotations

import logging
import time

from app.live.capacity import Assignment
from app.media.encoder import Encoder
from app.media.ffmpeg_args import ll_added_rungs_args, source_time_part_plan
from app.media.ladder import Source
from app.media.llladder import LadderPackager
from workers.live.ffmpeg_process import FfmpegRun
from workers.live.headroom import HeadroomWatch
from workers.relay import PullRelay

log = logging.getLogger(__name__)

RETRY_AFTER = 60.0  # seconds before a session whose added rungs failed may gain rungs again


class AddedRungs:
    """The lower rungs one passthrough session gained, and the ffmpeg that encodes them."""

    def __init__(self, assignment: Assignment, *, name: str) -> None:
        assert assignment.plan is not None
        self.assignment = assignment
        self.rungs = list(assignment.encode_plan.rungs)
        self.name = name
        self.run: FfmpegRun | None = None
        self.ladder: LadderPackager | None = None
        self.headroom: HeadroomWatch | None = None
        self.listed = False  # the master lists them (then the session row says so too)

    @property
    def cost(self) -> float:
        return self.assignment.cost

    def start(self, ladder: LadderPackager, pull: str, source: Source, encoder: Encoder) -> None:
        plans = [source_time_part_plan(rung.fps) for rung in self.rungs]
        fds = ladder.extend(self.rungs, plans)
        args = ll_added_rungs_args("pipe:0", self.rungs, plans, fds, encoder=encoder,
                                   preset=self.assignment.encode_plan.preset, has_audio=source.has_audio,
                                   copy_audio=source.audio_codec in (None, "aac"))
        relay = PullRelay(pull)
        try:
            self.run = FfmpegRun(args, pass_fds=tuple(fds), relay=relay)
        except OSError:
            relay.stop()
            ladder.drop_extension()
            raise
        ladder.start()
        self.ladder = ladder
        self.headroom = HeadroomWatch(time.monotonic())
        log.info("%s: added %s (ffmpeg %s)", self.name, "/".join(r.name for r in self.rungs), self.run.pid)

    def newly_listed(self) -> bool:
        """True once, when the master first lists them."""
        if self.listed or self.ladder is None or not self.ladder.extension_listed:
            return False
        self.listed = True
        log.info("%s: the master lists %s", self.name, "/".join(r.name for r in self.rungs))
        return True

    def trouble(self, now: float) -> str | None:
        """Why the added rungs must go (their ffmpeg exited, packaging failed, the encode fell
        behind real time); None while they are well."""
        assert self.run is not None and self.ladder is not None and self.headroom is not None
        if self.run.poll() is not None:
            tail = " | ".join(list(self.run.tail)[-2:])
            return f"their encoder exited ({tail or self.run.poll()})"
        errors = [error for error in self.ladder.errors
                  if error.split(":", 1)[0] in {rung.name for rung in self.rungs}]
        if errors:
            return f"packaging failed ({errors[0]})"
        if self.headroom.observe(now, self.run.latest):
            return f"their encode ran at {self.headroom.mean() or 0:.2f}x real time"
        return None

    def stop(self) -> None:
        """Stop their ffmpeg and take them out of the master (the passthrough goes on)."""
        if self.run is not None:
            self.run.stop()
            self.run = None
        if self.ladder is not None:
            self.ladder.drop_extension()
            self.ladder = None

    def cpu_seconds(self) -> float | None:
        return self.run.cpu_seconds() if self.run is not None else None
