"""Encoder statistics of a live session for the creator's dashboard (JSON in Redis, a short TTL)."""
from __future__ import annotations

import collections
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import Redis

from app.media.ffmpeg_args import PLAYLIST_NAME, THUMBNAIL_RATE, THUMBNAIL_SECONDS
from app.media.playlist import parse_media
from app.media.probe import parse_speed
from app.models import utcnow

STATS_TTL = 5  # seconds: a dead host's figures vanish from the dashboard by themselves


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def thumbnail_padding(progress: dict[str, str]) -> int:
    """Duplicates the thumbnail output gets (THUMBNAIL_SECONDS at THUMBNAIL_RATE, less the pick,
    at every pick after the first), which are not the stream's: ffmpeg counts all outputs together."""
    seconds = _int(progress.get("out_time_us")) / 1e6
    return int(seconds // THUMBNAIL_SECONDS) * max(0, round(THUMBNAIL_SECONDS * THUMBNAIL_RATE) - 1)


def rung_kbps(rung_dir: Path, last: int = 3) -> int | None:
    """Measured bitrate of a rung from its newest segments on disk (ffmpeg reports no per-rung rate)."""
    try:
        listed = parse_media((rung_dir / PLAYLIST_NAME).read_text()).segments
    except OSError:
        return None
    entries = [(segment.uri, segment.duration) for segment in listed if segment.uri and segment.duration]
    bits = seconds = 0.0
    for name, length in entries[-last:]:
        try:
            bits += (rung_dir / name).stat().st_size * 8
            seconds += length
        except OSError:
            continue
    return int(bits / seconds / 1000) if seconds else None


def encoder_stats(*, session_id: int, name: str, state: str, mode: str | None, encoder: str,
                  preset: str | None, rungs: list[dict[str, Any]], progress: dict[str, str], source_fps: float | None,
                  source_size: tuple[int, int] | None = None,
                  restarts: int, step: int, note: str, ffmpeg_pid: int | None, host: str,
                  cpu: float | None, transcoding: bool, input_age: float | None = None,
                  input_figures: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON the dashboard reads (app.dashboard.services.parse_stats). No figure here is
    ffmpeg's `fps=`: that is frames encoded per second of wall time since the run began, which
    reads 40-60 for a 30 fps source for the first minute (the run starts with the GOP the relay
    kept, encoded faster than real time). The stream's frame rate is `input.fps`, measured on the
    publisher's own timeline, and each rung's `fps` is what the encoder outputs."""
    padding = thumbnail_padding(progress) if transcoding else 0
    source = {"width": source_size[0], "height": source_size[1]} if source_size else {}
    return {
        "session_id": session_id,
        "internal_name": name,
        "state": state,
        "mode": mode,
        "host": host,
        "encoder": encoder if transcoding else "none (passthrough, no re-encoding)",
        "preset": preset,
        "ladder": rungs,  # [{name, width, height, fps, target_kbps, kbps (measured)}]
        # What the publisher sends: frame rate and bitrate measured on the pull (InputMeter),
        # the picture size as probed.
        "input": {**source, **(input_figures or {})},
        # Real-time factor over the last second, and ffmpeg's average since this run began. Only an
        # encode can fall behind by our doing: a copy's pace is the publisher's upload.
        "speed": (parse_speed(progress.get("rate")) or parse_speed(progress.get("speed")))
        if transcoding else None,
        "speed_avg": parse_speed(progress.get("speed")),
        "frame": int(progress["frame"]) if str(progress.get("frame", "")).isdigit() else None,
        "drop_frames": _int(progress.get("drop_frames")),
        "dup_frames": max(0, _int(progress.get("dup_frames")) - padding),
        # Drops and duplicates per rendition over the last few seconds: the runner's FrameWindow
        # fills it from the counters above.
        "frames_recent": {},
        "restarts": restarts,
        "headroom_step": step,
        "note": note,
        "cpu_cores": cpu,
        "ffmpeg_pid": ffmpeg_pid,
        # Seconds since the ingest server last sent media (app.streams.services.input_flowing).
        "input_age": input_age,
        "updated_at": utcnow().isoformat(),
    }


def write_stats(redis: Redis, key: str, stats: dict[str, Any]) -> None:
    redis.set(key, json.dumps(stats), ex=STATS_TTL)


# --- what the publisher sends, measured on the session's pull ----------------------------------

# Input figures cover the last INPUT_WINDOW seconds of the publisher's own timeline (its FLV
# timestamps), so a burst (the relay handing a new encoder a GOP it kept, a catch-up after a
# stall) neither inflates nor deflates them: they are what OBS encodes, frame for frame.
INPUT_WINDOW = 5.0
# A jump in the publisher's timestamps beyond this (a reset, a splice) starts the window again.
INPUT_JUMP = 5.0
FLV_VIDEO, FLV_AUDIO = 9, 8


def flv_video_frame(tag: bytes) -> bool:
    """Whether an FLV tag carries one coded video frame (not an AVC/HEVC sequence header or end,
    not a video info/command frame)."""
    if len(tag) < 13 or tag[0] & 0x1F != FLV_VIDEO:
        return False
    frame_type, codec = tag[11] >> 4, tag[11] & 0x0F
    if frame_type == 5:
        return False
    return codec not in (7, 12) or tag[12] == 1


class InputMeter:
    """The publisher's frame rate and bitrate over the last INPUT_WINDOW seconds of its stream
    time. The relay's pump thread calls `tag` with each whole FLV tag; the runner reads `figures`."""

    def __init__(self, window: float = INPUT_WINDOW) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._tags: collections.deque[tuple[float, int, bool]] = collections.deque()
        self._last: float | None = None

    def tag(self, tag: bytes) -> None:
        if len(tag) < 11 or tag[0] & 0x1F not in (FLV_VIDEO, FLV_AUDIO):
            return
        at = (int.from_bytes(tag[4:7], "big") | tag[7] << 24) / 1000
        size = int.from_bytes(tag[1:4], "big")
        with self._lock:
            if self._last is not None and not -INPUT_JUMP < at - self._last < INPUT_JUMP:
                self._tags.clear()
            self._last = at if self._last is None else max(self._last, at)
            self._tags.append((at, size, flv_video_frame(tag)))
            while self._tags and self._tags[0][0] < self._last - self.window:
                self._tags.popleft()

    def figures(self) -> dict[str, Any]:
        """{"fps", "kbps", "video_kbps"} over the window; a figure is None until a second of
        stream time has been seen."""
        with self._lock:
            tags = list(self._tags)
        frames = sorted(at for at, _, frame in tags if frame)
        fps = video_kbps = kbps = None
        if len(frames) >= 2 and frames[-1] - frames[0] >= 1.0:
            span = frames[-1] - frames[0]
            fps = round((len(frames) - 1) / span, 2)
        if tags:
            start, end = min(at for at, _, _ in tags), max(at for at, _, _ in tags)
            if end - start >= 1.0:
                # Bytes of the tags after the first instant over the time they cover.
                kbps = round(sum(size for at, size, _ in tags if at > start) * 8 / (end - start) / 1000)
                video_kbps = round(sum(size for at, size, frame in tags if frame and at > start) * 8
                                   / (end - start) / 1000)
        return {"fps": fps, "kbps": kbps, "video_kbps": video_kbps}


# --- the encoder's pace, dropped and duplicated frames, over the last seconds ------------------

# ffmpeg counts drops and duplicates since its start, over every output together. What the
# dashboard shows is how many happened in the last FRAME_WINDOW seconds, per rendition, against
# the frames the encoder made meanwhile: a clean source reads 0, and a problem shows while it lasts.
# Its speed is taken over the same window: a second's figure swings from 0.4x to 8x on a busy box
# (a pipe read late, then caught up) while the stream plays on fine.
FRAME_WINDOW = 10.0


class FrameWindow:
    """Samples of ffmpeg's cumulative counters (frames, dropped, duplicated, media seconds out), and
    their change over the last FRAME_WINDOW seconds. A new ffmpeg run (counters going back) starts
    it again."""

    def __init__(self, window: float = FRAME_WINDOW) -> None:
        self.window = window
        self._samples: collections.deque[tuple[float, int, int, int, float | None]] = collections.deque()

    def add(self, now: float, frames: int | None, dropped: int, duplicated: int,
            out_seconds: float | None = None) -> None:
        if frames is None:
            return
        if self._samples and frames < self._samples[-1][1]:
            self._samples.clear()  # a new run: its counters start at zero
        self._samples.append((now, frames, dropped, duplicated, out_seconds))
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def recent(self, outputs: int) -> dict[str, Any]:
        """{"seconds", "frames", "dropped", "duplicated", "speed"} over the window: frames the
        encoder made (per rendition, as ffmpeg counts its first), drops and duplicates per
        rendition (`outputs` renditions share ffmpeg's counters), and media seconds encoded per
        second. Empty until two samples a second apart."""
        if len(self._samples) < 2 or self._samples[-1][0] - self._samples[0][0] < 1.0:
            return {}
        (t0, f0, d0, u0, o0), (t1, f1, d1, u1, o1) = self._samples[0], self._samples[-1]
        outputs = max(1, outputs)
        recent = {"seconds": round(t1 - t0, 1), "frames": f1 - f0,
                  "dropped": round(max(0, d1 - d0) / outputs, 1),
                  "duplicated": round(max(0, u1 - u0) / outputs, 1)}
        if o0 is not None and o1 is not None:
            recent["speed"] = round(max(0.0, o1 - o0) / (t1 - t0), 3)
        return recent
