"""Admission by capacity: what a live host can still carry, and the best rendition set that fits.

A host's capacity is CPU cores it may spend on live sessions (a share of its cores) and, where a
hardware encoder works, encoder sessions. A rung costs its pixels per second times the measured
CPU cost of a pixel at the preset (app.live.calibration measures it on the host), and a transcode
also pays for decoding the source. Source passthrough (the publisher's H.264/AAC repackaged, no
decode and no encode) costs almost nothing.

Choice, best first, for the capacity free *now*:
  1. the full ladder (step 0 of app.media.ladder.lighter),
  2. the full ladder on a faster preset (every rung kept, slightly lower quality),
  3. source passthrough: one rendition at the source's quality, no lower ones;
  when passthrough cannot serve the source (not H.264, keyframes too far apart), the lighter
  ladders of `lighter()` come after 2, and the cheapest one is taken even when nothing fits
  (the stream stays up and the creator is told why), never a refusal.

Once capacity frees, a passthrough session may gain the ladder's lower rungs (`added_rungs`),
encoded beside it at the source's frame rate, as long as what stays free still takes a newcomer's
full ladder: capacity freed by one stream goes to the next publisher first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..media.ladder import DEFAULT_PRESET, HeadroomPlan, Source, ladder_for, lighter, passthrough_rung

MODE_LADDER = "ladder"
MODE_REDUCED = "reduced"
MODE_PASSTHROUGH = "passthrough"

# Keyframes further apart than this make segments too long for low latency and for quick starts.
MAX_PASSTHROUGH_KEYFRAME_INTERVAL = 4.0
PASSTHROUGH_COST = 0.02      # cores: reading, repackaging and uploading one stream
AUDIO_ENCODE_COST = 0.01     # cores: one AAC encode
HEADROOM_SHARE = 0.85        # of a dedicated host's cores; the rest is for packagers and the OS


@dataclass(frozen=True)
class CostModel:
    """CPU cores per megapixel per second: to encode with each x264 preset, and to decode H.264."""

    encode: dict[str, float] = field(default_factory=lambda: {
        "veryfast": 0.0085, "superfast": 0.0055, "ultrafast": 0.0030})
    decode: float = 0.0015
    measured: bool = False

    def as_dict(self) -> dict:
        return {"encode": dict(self.encode), "decode": self.decode, "measured": self.measured}

    @classmethod
    def from_dict(cls, data: dict) -> CostModel:
        return cls(encode={str(k): float(v) for k, v in data["encode"].items()},
                   decode=float(data["decode"]), measured=bool(data.get("measured")))


def megapixels_per_second(width: int, height: int, fps: float) -> float:
    return width * height * fps / 1e6


def ladder_cost(source: Source, plan: HeadroomPlan, model: CostModel, *, gpu: bool = False,
                cpu_decode: bool = False) -> float:
    """CPU cores one ffmpeg needs for `plan`: the decode and every rung's encode (on a GPU, the
    CPU only feeds it, and decodes the source where the GPU encoder takes uploaded pictures:
    Quick Sync and VAAPI)."""
    decode = model.decode * megapixels_per_second(source.width, source.height, source.fps)
    if gpu:
        return 0.05 + (decode if cpu_decode else 0.0) + AUDIO_ENCODE_COST * len(plan.rungs)
    rate = model.encode.get(plan.preset, max(model.encode.values()))
    cost = decode
    for rung in plan.rungs:
        cost += rate * megapixels_per_second(rung.width, rung.height, rung.fps)
    if source.has_audio:
        cost += AUDIO_ENCODE_COST * len(plan.rungs)
    return round(cost, 4)


def passthrough_cost(source: Source) -> float:
    audio = AUDIO_ENCODE_COST if source.has_audio and source.audio_codec != "aac" else 0.0
    return PASSTHROUGH_COST + audio


def passthrough_problem(source: Source) -> str | None:
    """Why passthrough cannot serve this source, in words a creator can act on; None if it can."""
    if source.video_codec != "h264":
        return (f"your video is {source.video_codec.upper()}, which browsers cannot all play as it is: "
                "in OBS choose the x264 or NVENC H.264 encoder")
    if source.keyframe_interval is not None and source.keyframe_interval > MAX_PASSTHROUGH_KEYFRAME_INTERVAL:
        return (f"your keyframes are {source.keyframe_interval:.0f} s apart: in OBS set Output → "
                "Keyframe Interval to 2 s")
    return None


@dataclass(frozen=True)
class Capacity:
    """What a host may spend: CPU cores for live sessions, and hardware encoder sessions."""

    cores: float
    hw_sessions: int = 0

    @classmethod
    def of_host(cls, cpu_count: float, hw_sessions: int = 0, share: float = HEADROOM_SHARE) -> Capacity:
        return cls(cores=round(cpu_count * share, 3), hw_sessions=hw_sessions)


@dataclass(frozen=True)
class Assignment:
    """The rendition set a session gets, what it costs, and why, in plain words."""

    mode: str
    plan: HeadroomPlan | None  # None for passthrough
    cost: float
    hw_sessions: int
    reason: str

    @property
    def rung_names(self) -> list[str]:
        return [rung.name for rung in self.plan.rungs] if self.plan else []

    @property
    def encode_plan(self) -> HeadroomPlan:
        """The plan of an assignment that encodes (every mode but passthrough)."""
        if self.plan is None:
            raise ValueError(f"a {self.mode} assignment encodes nothing")
        return self.plan


def _names(plan: HeadroomPlan) -> str:
    return ", ".join(rung.name for rung in plan.rungs)


def mode_of(source: Source, plan: HeadroomPlan) -> str:
    """A ladder keeps every rung of the source's ladder (perhaps on a faster preset); fewer is reduced."""
    return MODE_LADDER if plan.rungs == ladder_for(source) else MODE_REDUCED


def after_falling_behind(source: Source, step: int, model: CostModel) -> Assignment | None:
    """What an encode that fell behind goes to: the next lighter ladder (`step` of
    app.media.ladder.lighter), then passthrough when the source allows it, else None."""
    plan = lighter(ladder_for(source), step)
    if plan is not None:
        return Assignment(mode_of(source, plan), plan, ladder_cost(source, plan, model), 0,
                          plan.note or "a lighter encode")
    if passthrough_problem(source) is None:
        return Assignment(MODE_PASSTHROUGH, None, passthrough_cost(source), 0,
                          "the encoder could not keep up even with the lightest ladder, so viewers "
                          "get your stream as you send it")
    return None


def choose(source: Source, *, free_cores: float, model: CostModel, free_hw_sessions: int = 0,
           gpu: bool = False, cpu_decode: bool = False) -> Assignment:
    """The best rendition set for `source` that fits in what is free now (`gpu`: the host has a
    hardware encoder; `cpu_decode`: which takes pictures the CPU decoded)."""
    ladder = ladder_for(source)
    problem = passthrough_problem(source)
    steps = [plan for step in range(6) if (plan := lighter(ladder, step)) is not None]

    if gpu:
        plan = next((plan for plan in steps if len(plan.rungs) <= free_hw_sessions), None)
        cost = ladder_cost(source, plan, model, gpu=True, cpu_decode=cpu_decode) if plan else math.inf
        if plan is not None and cost <= free_cores:
            mode = mode_of(source, plan)
            return Assignment(mode, plan, cost, len(plan.rungs),
                              f"Hardware encoding: {_names(plan)}." if mode == MODE_LADDER else
                              f"Hardware encoder sessions are busy, so a smaller ladder: {_names(plan)}.")

    candidates = steps[:2] if problem is None else steps
    for plan in candidates:
        cost = ladder_cost(source, plan, model)
        if cost <= free_cores:
            if plan.step == 0:
                return Assignment(MODE_LADDER, plan, cost, 0, f"Full quality ladder: {_names(plan)}.")
            mode = mode_of(source, plan)
            return Assignment(mode, plan, cost, 0,
                              f"The server is busy, so your stream gets {_names(plan)} on the "
                              f"faster '{plan.preset}' preset." if mode == MODE_LADDER else
                              f"The server is busy, so your stream gets a smaller ladder: {_names(plan)}.")
    if problem is None:
        return Assignment(MODE_PASSTHROUGH, None, passthrough_cost(source), 0,
                          "The server's encoders are busy with other streams, so viewers get your "
                          "stream exactly as you send it (source quality; lower qualities for slow "
                          "connections may be added when the server frees up).")
    cheapest = steps[-1]
    return Assignment(MODE_REDUCED, cheapest, ladder_cost(source, cheapest, model), 0,
                      f"Your stream has to be re-encoded because {problem}, and the server is "
                      f"busy: it gets {_names(cheapest)} only, and may stutter.")


def added_rungs(source: Source, *, free_cores: float, model: CostModel) -> Assignment | None:
    """Lower renditions for a passthrough session of `source`, as many of the ladder's rungs below
    the source's height as fit in `free_cores` while a full ladder for a source like this one
    still fits beside them; None when not even one does. They keep the source's frame rate (their
    keyframes are the source's, frame for frame) and its audio, copied."""
    fps = passthrough_rung(source).fps
    lower = tuple(replace(rung, fps=fps) for rung in ladder_for(source) if rung.height < source.height)
    full = lighter(ladder_for(source), 0)
    assert full is not None  # step 0 of a ladder (never empty) is the ladder itself
    reserve = ladder_cost(source, full, model)
    for count in range(len(lower), 0, -1):
        plan = HeadroomPlan(rungs=lower[:count], preset=DEFAULT_PRESET, step=0)
        cost = ladder_cost(replace(source, has_audio=False), plan, model)
        if cost + reserve <= free_cores:
            return Assignment(MODE_PASSTHROUGH, plan, cost, 0,
                              f"Lower qualities were added as the server freed up: {_names(plan)}.")
    return None
