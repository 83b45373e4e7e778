"""Which H.264 encoder this machine can use, found by a one-frame trial encode (never assumed).

NVIDIA's NVENC first, then Intel Quick Sync (QSV) and VAAPI (Intel and AMD) on each DRM render
node, else libx264 on the CPU. Being compiled into ffmpeg proves nothing (Debian's ffmpeg has all
three; a machine may have no driver, or a GPU without an encoder engine such as the H100): only a
real encode of one frame does.
"""
from __future__ import annotations

import glob
import logging
import subprocess
from dataclasses import dataclass, field
from functools import cache

log = logging.getLogger(__name__)

NVENC = "h264_nvenc"
QSV = "h264_qsv"
VAAPI = "h264_vaapi"
X264 = "libx264"
RENDER_NODES = "/dev/dri/renderD*"  # the DRM render nodes VAAPI and QSV open
TRIAL_SOURCE = ["-f", "lavfi", "-i", "color=black:s=256x144"]


@dataclass(frozen=True)
class Filter:
    """One ffmpeg filter: its name, positional arguments and named options (a graph step for
    ffmpeg_args.filter_graph, or text for a -vf chain)."""
    name: str
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        params = [*self.args, *(f"{name}={value}" for name, value in self.options.items())]
        return f"{self.name}={':'.join(params)}" if params else self.name


@dataclass(frozen=True)
class Encoder:
    name: str  # NVENC, QSV, VAAPI or X264
    device: str | None = None  # the render node QSV and VAAPI open (/dev/dri/renderD128)

    @property
    def is_gpu(self) -> bool:
        return self.name != X264

    @property
    def uploads(self) -> bool:
        """Frames are decoded on the CPU and uploaded to the GPU once (QSV, VAAPI): any source
        decodes, whatever the GPU's decoder supports. NVENC decodes on the GPU instead."""
        return self.name in (QSV, VAAPI)

    def device_args(self) -> list[str]:
        """Global options that open the GPU for the filter graph (before the input)."""
        if self.name == VAAPI:
            return ["-init_hw_device", f"vaapi=gpu:{self.device}", "-filter_hw_device", "gpu"]
        if self.name == QSV:
            # QSV on Linux runs on a VAAPI device of the same render node.
            return ["-init_hw_device", f"vaapi=va:{self.device}", "-init_hw_device", "qsv=gpu@va",
                    "-filter_hw_device", "gpu"]
        return []

    def upload_filters(self) -> tuple[Filter, ...]:
        """The filters that take CPU frames to the GPU (QSV wants a pool of extra surfaces)."""
        return (Filter("format", ("nv12",)),
                Filter("hwupload", options={"extra_hw_frames": "16"} if self.name == QSV else {}))

    def upload_filter(self) -> str:
        """upload_filters as one -vf chain (the trial encode's)."""
        return ",".join(str(step) for step in self.upload_filters())


def trial_args(encoder: Encoder) -> list[str]:
    """ffmpeg's arguments for encoding one frame with `encoder`, as the live ladder would."""
    upload = ["-vf", encoder.upload_filter()] if encoder.uploads else []
    return ["-hide_banner", "-loglevel", "error", *encoder.device_args(), *TRIAL_SOURCE, *upload,
            "-frames:v", "1", "-c:v", encoder.name, "-f", "null", "-"]


def works(encoder: Encoder, ffmpeg: str = "ffmpeg", timeout: float = 20.0) -> bool:
    """Whether a one-frame trial encode with `encoder` succeeds here."""
    where = f" on {encoder.device}" if encoder.device else ""
    try:
        result = subprocess.run([ffmpeg, *trial_args(encoder)], capture_output=True, timeout=timeout,
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
