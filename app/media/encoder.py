"""Which H.264 encoder this machine can use, found by a one-frame trial encode (never assumed)."""
from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)

NVENC = "h264_nvenc"
X264 = "libx264"
# Being compiled in proves nothing (no driver, or a GPU without an NVENC engine such as the
# H100): only a real encode of one frame does.
NVENC_TRIAL = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=black:s=256x144",
               "-frames:v", "1", "-c:v", NVENC, "-f", "null", "-"]


@dataclass(frozen=True)
class Encoder:
    name: str  # "h264_nvenc" or "libx264"

    @property
    def is_gpu(self) -> bool:
        return self.name == NVENC


def nvenc_works(ffmpeg: str = "ffmpeg", timeout: float = 20.0) -> bool:
    try:
        result = subprocess.run([ffmpeg, *NVENC_TRIAL], capture_output=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("NVENC trial encode did not run (%s); using libx264", exc)
        return False
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        log.info("NVENC trial encode failed (%s); using libx264", reason[-1] if reason else "no output")
        return False
    return True


def choose_encoder(nvenc_ok: bool) -> Encoder:
    return Encoder(NVENC if nvenc_ok else X264)


@lru_cache(maxsize=None)
def detect_encoder(ffmpeg: str = "ffmpeg") -> Encoder:
    """The encoder for this process, probed once and cached."""
    encoder = choose_encoder(nvenc_works(ffmpeg))
    log.info("H.264 encoder: %s", encoder.name)
    return encoder
