"""When an encode has run slower than real time for long enough to go lighter."""
from __future__ import annotations

from app.media.probe import parse_speed


class HeadroomWatch:
    """Decides when ffmpeg has been slower than real time for long enough to go lighter."""

    def __init__(self, started: float, warmup: float = 10.0, window: float = 12.0,
                 min_speed: float = 0.95) -> None:
        self.started, self.warmup, self.window, self.min_speed = started, warmup, window, min_speed
        self.samples: list[tuple[float, float]] = []
        self.first_sample: float | None = None
        self._progress: dict[str, str] | None = None

    def observe(self, now: float, progress: dict[str, str]) -> bool:
        """Take ffmpeg's latest -progress block (FfmpegRun.latest) if it is new; whether the encode
        has now been too slow for long enough."""
        if progress is self._progress or (speed := parse_speed(progress.get("rate"))) is None:
            return False
        self._progress = progress
        self.add(now, speed)
        return self.too_slow(now)

    def add(self, now: float, speed: float) -> None:
        if now - self.started < self.warmup:
            return  # the first seconds drain the ingest buffer and say nothing about headroom
        if self.first_sample is None:
            self.first_sample = now
        self.samples.append((now, speed))
        self.samples = [s for s in self.samples if now - s[0] <= self.window]

    def too_slow(self, now: float) -> bool:
        if self.first_sample is None or now - self.first_sample < self.window or len(self.samples) < 3:
            return False
        speeds = [speed for _, speed in self.samples]
        slow = sum(1 for speed in speeds if speed < self.min_speed)
        # Most of the window slow, on average too: a few seconds' dip is no reason to give up quality.
        return (slow >= 0.8 * len(speeds) and sum(speeds) / len(speeds) < self.min_speed
                and speeds[-1] < self.min_speed)

    def mean(self) -> float | None:
        return sum(s for _, s in self.samples) / len(self.samples) if self.samples else None
