"""Measures what encoding costs on this host: CPU seconds per megapixel of each x264 preset, and of
decoding H.264, from short real encodes at start (about 2 s of CPU), so admission
(app.live.capacity) works from this machine's figures rather than guesses."""
from __future__ import annotations

import logging
import resource
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from app.live.capacity import CostModel
from app.media.ffmpeg_args import calibration_decode_args, calibration_sample_args, transcode_args
from app.media.ladder import PRESETS, Source, ladder_for

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 30, 2
# A live ladder costs more than the same encode from a file: it reads a pipe in real time, writes
# a thumbnail and CMAF fragments to our packagers. Measured here: 0.62 cores live for a 720p30
# ladder that costs 0.49 from a file.
LIVE_OVERHEAD = 1.25


def _cpu(args: list[str]) -> float:
    """CPU seconds (user + system, every thread) one ffmpeg run took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(ffmpeg: str = "ffmpeg") -> CostModel:
    """Encode a 720p30 sample as a live ladder would (one decode, split, scale, x264 with the live
    options, every rung of a 720p source) with each preset, and divide the CPU by the pixels."""
    source = Source(WIDTH, HEIGHT, FPS)
    rungs = ladder_for(source)
    with tempfile.TemporaryDirectory(prefix="cascade-calibrate-") as tmp:
        sample = str(Path(tmp) / "sample.mp4")
        subprocess.run(calibration_sample_args(sample, width=WIDTH, height=HEIGHT, fps=FPS, seconds=SECONDS,
                                               ffmpeg=ffmpeg),
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        decode = _cpu(calibration_decode_args(sample, ffmpeg=ffmpeg))
        source_mpx = WIDTH * HEIGHT * FPS * SECONDS / 1e6
        ladder_mpx = sum(r.width * r.height * r.fps for r in rungs) * SECONDS / 1e6
        encode = {}
        for preset in PRESETS:
            out = Path(tmp) / preset
            out.mkdir()
            spent = _cpu(transcode_args(sample, str(out), rungs, preset=preset, has_audio=False,
                                        source_fps=FPS, record=False, progress=None,
                                        live_input=False, ffmpeg=ffmpeg, loglevel="error"))
            encode[preset] = round(max(spent - decode, 0.01) * LIVE_OVERHEAD / ladder_mpx, 5)
    model = CostModel(encode=encode, decode=round(max(decode, 0.01) / source_mpx, 5), measured=True)
    log.info("encoding cost measured (cores per megapixel/s): %s", model.as_dict())
    return model


# A measurement is kept this long (in Redis, per machine): a live host restarted by its supervisor
# takes its sessions back without measuring again first.
MEASURED_TTL = 6 * 3600


def cost_model(configured: str | None, redis: Redis | None = None, key: str | None = None) -> CostModel:
    """LIVE_COST_MODEL (JSON) when set, else this machine's recent measurement (at `key` in
    `redis`), else measured here; the built-in figures if ffmpeg fails."""
    import json

    if configured:
        return CostModel.from_dict(json.loads(configured))
    redis = redis if key else None
    try:
        if redis is not None and (kept := redis.get(key)):
            model = CostModel.from_dict(json.loads(kept))
            log.info("encoding cost as measured on this machine lately: %s", model.as_dict())
            return model
    except Exception:  # noqa: BLE001 - no cache: measure
        pass
    try:
        model = measure()
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("could not measure encoding cost (%s); using built-in figures", error)
        return CostModel()
    try:
        if redis is not None:
            redis.set(key, json.dumps(model.as_dict()), ex=MEASURED_TTL)
    except Exception:  # noqa: BLE001 - measured again next time
        pass
    return model
