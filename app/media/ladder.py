"""The adaptive bitrate ladder: which renditions a source gets, and how to lighten it for headroom."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

# (height, video kbps) from DESIGN.md, best first.
LADDER = (
    (1080, 6000),
    (720, 3500),
    (480, 2000),
    (360, 1200),
)
MAX_FPS = 60
# Below 720p the extra frames of a 60 fps source cost encode time that small screens
# hardly show, so those rungs stop at 30.
LOW_RUNG_MAX_FPS = 30
AUDIO_KBPS = 128
# x264 presets from the default to the cheapest; each step costs less CPU per pixel.
PRESETS = ("veryfast", "superfast", "ultrafast")
DEFAULT_PRESET = PRESETS[0]


@dataclass(frozen=True)
class Source:
    """What ffprobe says about the incoming stream."""

    width: int
    height: int
    fps: float
    has_audio: bool = True
    video_codec: str = "h264"
    audio_codec: str | None = "aac"
    # Seconds between the keyframes seen while probing; None when the probe saw fewer than two.
    keyframe_interval: float | None = None
    # The publisher's total bitrate when the container says (FLV metadata), else None.
    kbps: int | None = None
    # CEA-608/708 captions in the video (ffprobe saw them while probing). Without them the master
    # playlists say CLOSED-CAPTIONS=NONE, so players need not look for captions in the media.
    closed_captions: bool = False


@dataclass(frozen=True)
class Rung:
    """One rendition: H.264 at a fixed size, frame rate and bitrate, plus AAC audio."""

    name: str
    width: int
    height: int
    fps: float
    video_kbps: int
    maxrate_kbps: int
    bufsize_kbps: int
    audio_kbps: int = AUDIO_KBPS

    @property
    def bandwidth(self) -> int:
        """Peak bits per second for the master playlist's BANDWIDTH."""
        return (self.maxrate_kbps + self.audio_kbps) * 1000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HeadroomPlan:
    """A ladder and preset to encode with, and why (empty `note` for the full ladder)."""

    rungs: tuple[Rung, ...]
    preset: str
    step: int
    note: str = ""


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _fps(value: float) -> float:
    """Frame rates as ffmpeg prints them: 30, 29.97, 59.94."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def make_rung(source: Source, height: int, video_kbps: int) -> Rung:
    height = min(_even(height), _even(source.height)) if source.height >= 2 else 2
    width = _even(source.width * height / source.height) if source.height else _even(height * 16 / 9)
    cap = MAX_FPS if height >= 720 else LOW_RUNG_MAX_FPS
    fps = _fps(min(source.fps or 30, cap))
    # Capped VBV: maxrate a little above the target keeps bursts short for live viewers;
    # a 2 s buffer matches the GOP so rate control can spend bits where a segment needs them.
    maxrate = int(video_kbps * 1.07)
    return Rung(name=f"{height}p", width=width, height=height, fps=fps, video_kbps=video_kbps,
                maxrate_kbps=maxrate, bufsize_kbps=video_kbps * 2)


def ladder_for(source: Source) -> tuple[Rung, ...]:
    """The rungs for `source`: never above its height (no upscaling) or frame rate.

    A source smaller than the lowest rung gets one rung at its own size, with the lowest
    rung's bitrate scaled by area, so every stream is watchable.
    """
    rungs = [make_rung(source, height, kbps) for height, kbps in LADDER if height <= source.height]
    if not rungs:
        low_height, low_kbps = LADDER[-1]
        scale = (source.height / low_height) ** 2
        rungs = [make_rung(source, source.height, max(200, int(low_kbps * scale)))]
    return tuple(rungs)


def lighter(ladder: tuple[Rung, ...], step: int, preset: str = DEFAULT_PRESET) -> HeadroomPlan | None:
    """The encode to use after `step` headroom fallbacks, or None when nothing lighter is left.

    Step 0 is the ladder as given. Each later step costs less CPU, cheapest-to-viewers first:
      1. a faster x264 preset (superfast): every rung stays, quality drops a little;
      2. drop the top rung as well: it holds most of the pixels, so this saves the most;
      3. ultrafast on what is left;
      4. the lowest rung only (the stream stays up, in one quality);
      5. the lowest rung at no more than 30 fps.
    Quality is given up before renditions, and renditions before the stream itself.
    """
    rungs = tuple(ladder)
    if not rungs:
        return None
    faster = PRESETS[min(PRESETS.index(preset) + 1, len(PRESETS) - 1)] if preset in PRESETS else preset
    fastest = PRESETS[-1]
    lowest = rungs[-1:]
    lowest30 = tuple(replace(r, fps=_fps(min(r.fps, 30))) for r in lowest)
    plans = [
        (rungs, preset, ""),
        (rungs, faster, (f"the encoder could not keep up, so it switched to the faster "
                         f"'{faster}' preset (slightly lower quality)")),
        (rungs[1:] or rungs, faster, (f"still too slow on '{faster}', so the {rungs[0].name} "
                                      f"rendition was dropped")),
        (rungs[1:] or rungs, fastest, (f"still too slow, so the {rungs[0].name} rendition was "
                                       f"dropped and the '{fastest}' preset is used")),
        (lowest, fastest, f"still too slow, so only {lowest[0].name} is sent"),
        (lowest30, fastest, (f"still too slow, so only {lowest[0].name} at "
                             f"{lowest30[0].fps} fps is sent")),
    ]
    # Skip steps that change nothing (a one-rung ladder cannot drop its top, and so on).
    distinct: list[tuple[tuple[Rung, ...], str, str]] = []
    for plan in plans:
        if not distinct or (plan[0], plan[1]) != (distinct[-1][0], distinct[-1][1]):
            distinct.append(plan)
    if step < 0 or step >= len(distinct):
        return None
    chosen, chosen_preset, note = distinct[step]
    return HeadroomPlan(rungs=chosen, preset=chosen_preset, step=step, note=note)


def passthrough_rung(source: Source) -> Rung:
    """The one rendition of a passthrough session: the source itself, named by its height like a
    ladder rung (so a later ladder continues the same playlist). Its bitrate is what the publisher
    declared, else a generous guess for its size (BANDWIDTH only steers players' ABR)."""
    kbps = source.kbps
    if not kbps:
        nearest = min(LADDER, key=lambda rung: abs(rung[0] - source.height))
        kbps = int(nearest[1] * 1.5)
    height = source.height if source.height % 2 == 0 else source.height + 1
    return Rung(name=f"{height}p", width=source.width, height=source.height,
                fps=_fps(source.fps or 30), video_kbps=kbps, maxrate_kbps=int(kbps * 1.5),
                bufsize_kbps=kbps * 2, audio_kbps=AUDIO_KBPS if source.has_audio else 0)
