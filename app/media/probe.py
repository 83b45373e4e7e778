"""What ffprobe says about a live source: size, frame rate, codecs, keyframe spacing, bitrate.

Pure functions over ffprobe's JSON (the live host probes the head of the stream it pulls, see
workers/relay.py), so passthrough and ladder decisions are unit-tested without ffmpeg.
"""
from __future__ import annotations

from typing import Any

from .ladder import Source

# Streams, the container, and each packet's type, time and flags (K = keyframe).
PROBE_ENTRIES = ("packet=codec_type,pts_time,flags"
                 ":stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,bit_rate,closed_captions"
                 ":format=bit_rate:format_tags=videodatarate,audiodatarate")


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
