"""Which H.264 encoder this machine can use, found by a one-frame trial encode (never assumed).

NVIDIA's NVENC first, then Intel Quick Sync (QSV) and VAAPI (Intel and AMD) on each DRM render
node, else libx264 on the CPU. Being compiled into ffmpeg proves nothing (Debian's ffmpeg has all
three; a machine may have no driver, or a GPU without an encoder engine such as the H100): only a
real encode of one frame does. The trial's command is ffmpeg_args.encoder_trial_args.
"""
from __future__ import annotations

import glob
import logging
import subprocess
from functools import cache

from .encoder import NVENC, QSV, VAAPI, X264, Encoder
from .ffmpeg_args import encoder_trial_args

log = logging.getLogger(__name__)

RENDER_NODES = "/dev/dri/renderD*"  # the DRM render nodes VAAPI and QSV open


def works(encoder: Encoder, ffmpeg: str = "ffmpeg", timeout: float = 20.0) -> bool:
    """Whether a one-frame trial encode with `encoder` succeeds here."""
    where = f" on {encoder.device}" if encoder.device else ""
    try:
        result = subprocess.run(encoder_trial_args(encoder, ffmpeg=ffmpeg), capture_output=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("%s trial encode%s did not run (%s)", encoder.name, where, exc)
        return False
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        log.info("%s trial encode%s failed (%s)", encoder.name, where, reason[-1] if reason else "no output")
        return False
    return True


def candidates(render_nodes: list[str]) -> list[Encoder]:
    """The hardware encoders to try, best first: NVENC, then QSV and VAAPI on each render node."""
    found = [Encoder(NVENC)]
    for node in render_nodes:
        found += [Encoder(QSV, node), Encoder(VAAPI, node)]
    return found


def first_working(encoders: list[Encoder], ffmpeg: str = "ffmpeg") -> Encoder:
    """The first of `encoders` whose trial encode works, else libx264."""
    return next((hw for hw in encoders if works(hw, ffmpeg)), Encoder(X264))


@cache
def detect_encoder(ffmpeg: str = "ffmpeg") -> Encoder:
    """The encoder for this process, probed once and cached."""
    chosen = first_working(candidates(sorted(glob.glob(RENDER_NODES))), ffmpeg)
    log.info("H.264 encoder: %s%s", chosen.name, f" on {chosen.device}" if chosen.device else "")
    return chosen
