"""One ffmpeg process of a live session: its own process group, killed with its parent, with its
-progress output parsed on a thread and its CPU time readable from /proc."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from workers.lifetime import die_with_parent

if TYPE_CHECKING:
    from workers.relay import PullRelay

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds a process has used (/proc/<pid>/stat), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class FfmpegRun:
    """One ffmpeg process in its own process group, with its -progress output parsed on a thread."""

    def __init__(self, args: list[str], pass_fds: tuple[int, ...] = (),
                 relay: PullRelay | None = None) -> None:
        self.args = args
        self.started = time.monotonic()
        self.latest: dict[str, str] = {}
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.relay = relay  # input on stdin (`-i pipe:0`), from the stream's first frame
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE if relay else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True, preexec_fn=die_with_parent,
                                        pass_fds=pass_fds)
        if relay is not None:
            assert self.process.stdin is not None  # a pipe when there is a relay
            relay.feed(self.process.stdin)
        self._threads = [threading.Thread(target=self._read_progress, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_progress(self) -> None:
        """Keep the latest -progress block, adding `rate`: media seconds encoded per wall second
        since the previous block. ffmpeg's own `speed` averages over the whole run, so it
        would notice a slowdown late (and a recovery later still)."""
        block: dict[str, str] = {}
        previous: tuple[float, int] | None = None
        assert self.process.stdout is not None  # a pipe, see __init__
        for raw in self.process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            block[key] = value.strip()
            if key == "progress":
                now = time.monotonic()
                out_us = block.get("out_time_us", "")
                if out_us.lstrip("-").isdigit():
                    if previous is not None and now - previous[0] >= 0.5:
                        block["rate"] = f"{(int(out_us) - previous[1]) / 1e6 / (now - previous[0]):.3f}"
                    if previous is None or now - previous[0] >= 0.5:
                        previous = (now, int(out_us))
                self.latest = block
                block = {}

    def _read_errors(self) -> None:
        assert self.process.stderr is not None  # a pipe, see __init__
        for raw in self.process.stderr:
            self.tail.append(raw.decode(errors="replace").rstrip())

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self, timeout: float = 8.0) -> int | None:
        """End of input and SIGINT first (ffmpeg finishes the segment and writes ENDLIST), then
        SIGKILL the group. The relay stops feeding first: ffmpeg blocked reading a quiet pipe
        (the publisher has left) sees SIGINT only with the next byte, which took 2 s here."""
        if self.relay is not None:
            self.relay.detach()
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.process.wait()
        if self.relay is not None:
            self.relay.stop()
        for thread in self._threads:
            thread.join(timeout=2)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        return code

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.process.pid)
