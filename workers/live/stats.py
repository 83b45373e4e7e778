"""Encoder statistics of a live session for the creator's dashboard (JSON in Redis, a short TTL)."""
from __future__ import annotations

import json
from pathlib import Path

from app.media.ffmpeg_args import PLAYLIST_NAME, THUMBNAIL_RATE, THUMBNAIL_SECONDS
from app.media.probe import parse_speed
from app.models import utcnow

STATS_TTL = 5  # seconds: a dead host's figures vanish from the dashboard by themselves


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def thumbnail_padding(progress: dict) -> int:
    """Duplicates the thumbnail output gets (THUMBNAIL_SECONDS at THUMBNAIL_RATE, less the pick,
    at every pick after the first), which are not the stream's: ffmpeg counts all outputs together."""
    seconds = _int(progress.get("out_time_us")) / 1e6
    return int(seconds // THUMBNAIL_SECONDS) * max(0, round(THUMBNAIL_SECONDS * THUMBNAIL_RATE) - 1)


def rung_kbps(rung_dir: Path, last: int = 3) -> int | None:
    """Measured bitrate of a rung from its newest segments on disk (ffmpeg reports no per-rung rate)."""
    try:
        lines = (rung_dir / PLAYLIST_NAME).read_text().splitlines()
    except OSError:
        return None
    entries, duration = [], None
    for line in lines:
        if line.startswith("#EXTINF:"):
            duration = parse_speed(line[8:].split(",")[0])
        elif line and not line.startswith("#") and duration:
            entries.append((line.strip(), duration))
            duration = None
    bits = seconds = 0.0
    for name, length in entries[-last:]:
        try:
            bits += (rung_dir / name).stat().st_size * 8
            seconds += length
        except OSError:
            continue
    return int(bits / seconds / 1000) if seconds else None


def encoder_stats(*, session_id: int, name: str, state: str, mode: str | None, encoder: str,
                  preset: str | None, rungs: list[dict], progress: dict, source_fps: float | None,
                  restarts: int, step: int, note: str, ffmpeg_pid: int | None, host: str,
                  cpu: float | None, transcoding: bool, input_age: float | None = None) -> dict:
    padding = thumbnail_padding(progress) if transcoding else 0
    return {
        "session_id": session_id,
        "internal_name": name,
        "state": state,
        "mode": mode,
        "host": host,
        "encoder": encoder if transcoding else "none (passthrough, no re-encoding)",
        "preset": preset,
        "ladder": rungs,  # [{name, width, height, fps, target_kbps, kbps (measured)}]
        "fps": parse_speed(progress.get("fps")),
        # Real-time factor over the last second, and ffmpeg's average since this run began. Only an
        # encode can fall behind by our doing: a copy's pace is the publisher's upload.
        "speed": (parse_speed(progress.get("rate")) or parse_speed(progress.get("speed")))
        if transcoding else None,
        "speed_avg": parse_speed(progress.get("speed")),
        "frame": int(progress["frame"]) if str(progress.get("frame", "")).isdigit() else None,
        "drop_frames": _int(progress.get("drop_frames")),
        "dup_frames": max(0, _int(progress.get("dup_frames")) - padding),
        "restarts": restarts,
        "headroom_step": step,
        "note": note,
        "cpu_cores": cpu,
        "ffmpeg_pid": ffmpeg_pid,
        # Seconds since the ingest server last sent media (app.streams.services.input_flowing).
        "input_age": input_age,
        "updated_at": utcnow().isoformat(),
    }


def write_stats(redis, key: str, stats: dict) -> None:
    redis.set(key, json.dumps(stats), ex=STATS_TTL)
