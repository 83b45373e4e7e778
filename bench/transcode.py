"""Real-time factor of the worker's live ladder command against a bare hand-written ffmpeg command.

Run: .venv/bin/python bench/transcode.py. Encodes the same cached 60 s 720p30 testsrc2+sine file
(var/bench/) as fast as the machine allows (no -re), once with app.media.ffmpeg_args's command
and once with the reference below (same ladder, x264 and AAC settings, HLS fMP4 output, but no
thumbnail branch, progress reporting or program-date-time). Prints each realtime speed, how many
720p30 ladders this machine sustains in real time, and `ladder_speed_ratio=<ours/bare>` last.
"""
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.media.ffmpeg_args import transcode_args  # noqa: E402 - needs the sys.path line above
from app.media.ladder import Source, ladder_for  # noqa: E402 - needs the sys.path line above

SECONDS = 60
SOURCE = ROOT / "var" / "bench" / "testsrc2-720p30-60s.mp4"


def source_file() -> Path:
    if not SOURCE.exists():
        SOURCE.parent.mkdir(parents=True, exist_ok=True)
        partial = SOURCE.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={SECONDS}",
                        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
                        # What OBS sends: x264 at a streaming bitrate with 2 s keyframes.
                        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "4500k", "-g", "60",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "160k", str(partial)],
                       check=True)
        partial.rename(SOURCE)
    return SOURCE


def bare_command(source: Path, out: Path) -> list[str]:
    """Written by hand: the same 720p/480p/360p ladder and encoder settings, nothing else."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
        "-filter_complex",
        "[0:v]split=3[a][b][c];[a]scale=1280:720[v0];[b]scale=854:480[v1];[c]scale=640:360[v2]",
        "-map", "[v0]", "-map", "0:a", "-map", "[v1]", "-map", "0:a", "-map", "[v2]", "-map", "0:a",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "high",
        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-bf", "0",
        "-b:v:0", "3500k", "-maxrate:v:0", "3745k", "-bufsize:v:0", "7000k",
        "-b:v:1", "2000k", "-maxrate:v:1", "2140k", "-bufsize:v:1", "4000k",
        "-b:v:2", "1200k", "-maxrate:v:2", "1284k", "-bufsize:v:2", "2400k",
        "-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k",
        "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-master_pl_name", "master.m3u8",
        "-var_stream_map", "v:0,a:0 v:1,a:1 v:2,a:2", f"{out}/%v/index.m3u8",
    ]


def ours_command(source: Path, out: Path) -> list[str]:
    rungs = ladder_for(Source(1280, 720, 30))
    return transcode_args(str(source), str(out), rungs, source_fps=30, thumbnail_path=str(out / "thumb.jpg"),
                          start_number=0, progress=None, live_input=False, loglevel="error")


def speed_of(command: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
    return SECONDS / (time.monotonic() - start)


def main() -> None:
    source = source_file()
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        bare = speed_of(bare_command(source, Path(tmp) / "bare"))
        ours = speed_of(ours_command(source, Path(tmp) / "ours"))
    print(f"bare_speed={bare:.2f}x")
    print(f"ours_speed={ours:.2f}x")
    print(f"realtime_720p30_ladders={math.floor(ours)}")
    print(f"ladder_speed_ratio={ours / bare:.3f}")


if __name__ == "__main__":
    main()
