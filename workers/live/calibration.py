"""Measures what encoding costs on this host: CPU seconds per megapixel of each x264 preset, and of
decoding H.264, from short real encodes at start (about 2 s of CPU), so admission
(app.live.capacity) works from this machine's figures rather than guesses."""
from __future__ import annotations

import logging
import resource
import subprocess
import tempfile
from pathlib import Path

from app.live.capacity import CostModel
from app.media.ladder import PRESETS

log = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 30, 2
RUNG = (854, 480)  # encodes are measured on a middle rung, scaling included, as a ladder does


def _cpu(args: list[str]) -> float:
    """CPU seconds (user + system, every thread) one ffmpeg run took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(ffmpeg: str = "ffmpeg") -> CostModel:
    base = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    with tempfile.TemporaryDirectory(prefix="cascade-calibrate-") as tmp:
        sample = str(Path(tmp) / "sample.mp4")
        subprocess.run([*base, "-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}",
                        "-t", str(SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS),
                        sample], check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        decode = _cpu([*base, "-i", sample, "-f", "null", "-"])
        source_mpx = WIDTH * HEIGHT * FPS * SECONDS / 1e6
        rung_mpx = RUNG[0] * RUNG[1] * FPS * SECONDS / 1e6
        encode = {}
        for preset in PRESETS:
            spent = _cpu([*base, "-i", sample, "-vf", f"scale={RUNG[0]}:{RUNG[1]},format=yuv420p",
                          "-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-bf", "0",
                          "-b:v", "2000k", "-f", "null", "-"])
            encode[preset] = round(max(spent - decode, 0.01) / rung_mpx, 5)
    model = CostModel(encode=encode, decode=round(max(decode, 0.01) / source_mpx, 5), measured=True)
    log.info("encoding cost measured (cores per megapixel/s): %s", model.as_dict())
    return model


def cost_model(configured: str | None) -> CostModel:
    """LIVE_COST_MODEL (JSON) when set, else measured here; the built-in figures if ffmpeg fails."""
    import json

    if configured:
        return CostModel.from_dict(json.loads(configured))
    try:
        return measure()
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("could not measure encoding cost (%s); using built-in figures", error)
        return CostModel()
