"""Running ffprobe, and what it says about a live source: size, frame rate, codecs, keyframe
spacing, bitrate.

`probe` is the one way we run ffprobe (the live host probes the head of the stream it pulls,
workers/relay.py; the VOD job checks the MP4 it made, workers/vod.py). The rest are pure
functions over ffprobe's JSON, so passthrough and ladder decisions are unit-tested without ffmpeg.

`probe` is ffmpeg-python's `ffmpeg.probe(target, **options)` (the same command: `-show_format
-show_streams -of json`, the options, the target; the same `ffmpeg.Error` carrying ffprobe's
stdout and stderr when it fails), run with what 0.2.0's cannot do: a timeout (it waits on
`communicate()` with none, and a `timeout=` keyword would become ffprobe's own `-timeout` option)
and bytes on stdin (the relay probes the head it holds, `pipe:0`). Neither probe names a URL:
the relay's reads stdin and the VOD's a local file, so no stream key reaches a process list.
"""
from __future__ import annotations

import json
import subprocess
from typing import Any

import ffmpeg

from .ladder import Source

# Each packet's type, time and flags (K = keyframe), beside the streams and the container
# (-show_streams, -show_format) that every probe lists.
PACKET_ENTRIES = "packet=codec_type,pts_time,flags"


def probe_args(target: str, *, ffprobe: str = "ffprobe", **options: str) -> list[str]:
    """ffmpeg.probe's command: each option as `-name value` (in name order, as ffmpeg-python
    writes keyword arguments), then the file or `pipe:0`."""
    args = [ffprobe, "-show_format", "-show_streams", "-of", "json"]
    for name in sorted(options):
        args += [f"-{name}", options[name]]
    return [*args, target]


def probe(target: str, *, timeout: float, stdin: bytes | None = None, ffprobe: str = "ffprobe",
          **options: str) -> dict[str, Any]:
    """ffprobe's JSON for `target` (`stdin` is fed to it, for `pipe:0`).

    Raises ffmpeg.Error (with ffprobe's `stdout` and `stderr`) when ffprobe fails, and
    subprocess.TimeoutExpired when it runs past `timeout` seconds (it is killed first).
    """
    result = subprocess.run(probe_args(target, ffprobe=ffprobe, **options), input=stdin,
                            capture_output=True, timeout=timeout)
    if result.returncode != 0:
        raise ffmpeg.Error("ffprobe", result.stdout, result.stderr)
    info: dict[str, Any] = json.loads(result.stdout or b"{}")
    return info


def _frame_rate(video: dict[str, Any]) -> float:
    for field in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(video.get(field) or "0/0").partition("/")
        try:
            value = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if 1 <= value <= 240:
            return value
    return 0.0


def keyframe_interval(packets: list[dict[str, Any]]) -> float | None:
    """The longest gap between the video keyframes listed, or None with fewer than two."""
    times = []
    for packet in packets:
        if packet.get("codec_type") == "video" and "K" in str(packet.get("flags", "")):
            try:
                times.append(float(packet["pts_time"]))
            except (KeyError, TypeError, ValueError):
                continue
    if len(times) < 2:
        return None
    times.sort()
    return round(max(b - a for a, b in zip(times, times[1:])), 3)


def _kbps(info: dict[str, Any]) -> int | None:
    """The publisher's bitrate from FLV metadata (OBS sends videodatarate/audiodatarate in kbps)."""
    tags = (info.get("format") or {}).get("tags") or {}
    try:
        total = float(tags.get("videodatarate") or 0) + float(tags.get("audiodatarate") or 0)
    except (TypeError, ValueError):
        total = 0.0
    return int(total) if total > 0 else None


def source_from_probe(info: dict[str, Any]) -> Source | None:
    """The source described by `ffprobe -show_streams [-show_packets]` JSON, or None without video."""
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and s.get("width")), None)
    if video is None:
        return None
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return Source(int(video["width"]), int(video["height"]), _frame_rate(video) or 30.0,
                  has_audio=audio is not None,
                  video_codec=str(video.get("codec_name") or "unknown"),
                  audio_codec=str(audio.get("codec_name") or "unknown") if audio else None,
                  keyframe_interval=keyframe_interval(info.get("packets", [])),
                  kbps=_kbps(info), closed_captions=bool(video.get("closed_captions")))


def parse_speed(value: str | None) -> float | None:
    """ffmpeg's `speed=1.02x` (or a plain number) as a float; None when it is not one."""
    try:
        return float(str(value).strip().rstrip("x"))
    except (TypeError, ValueError):
        return None
