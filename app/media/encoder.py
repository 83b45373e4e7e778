"""The H.264 encoders a ladder can use (NVIDIA's NVENC, Intel Quick Sync, VAAPI, libx264 on the CPU)
and what each asks of ffmpeg: the GPU device it opens and the filters that upload frames to it.
Which one this machine has is found by a trial encode (app.media.encoder_trial).
"""
from __future__ import annotations

from dataclasses import dataclass, field

NVENC = "h264_nvenc"
QSV = "h264_qsv"
VAAPI = "h264_vaapi"
X264 = "libx264"


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
