"""Builds every ffmpeg command the project runs: the live transcode (one decode, `split` to every
rung, CMAF HLS), the relay's pull, the VOD builder's MP4, sprites and poster, a passthrough
session's thumbnail, the encoder trial and the CPU calibration's sample and decode. (ffprobe's is
app.media.probe.probe_args, beside the one function that runs ffprobe.)

Pure functions returning argument lists (run without a shell), so every flag is unit-tested
without running ffmpeg.

The filter graph (`filter_graph`) is built with ffmpeg-python's graph API and compiled by it:
ffmpeg-python escapes each filter's arguments (the thumbnail's `select` expression is written
plainly) and names every link itself (`[s0]`, `[s1]`... one per filter, in graph order), so the
outputs map the labels `FilterGraph` reports, never labels of our own. The rest of the command
stays a hand-built list, because ffmpeg-python 0.2.0 cannot write it as we need it: it writes an
input's or output's options in name order from a dict (`-filter_hw_device gpu` would come before
the `-init_hw_device` that creates `gpu`, and `-c:v` before or after the per-rung `-g:v:0` by
spelling alone), so no option can be repeated in its place; it puts global options (`-copyts`,
`-progress`, `-nostdin`) after the last output, where ffmpeg takes them as trailing options; and
its output list has no place for per-output options that must come before an output's `-map`s in
a fixed order (an output's `-ss`, the LL-HLS pipes' `-movflags`/`-frag_duration`, `-fps_mode`,
`-enc_time_base:v`), which every rung repeats. Those lists are pinned flag by flag by the tests.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from .encoder import NVENC, QSV, VAAPI, X264, Encoder
from .ladder import DEFAULT_PRESET, Rung

# Classic HLS (a channel's "normal latency" mode): 1 s segments of one GOP each, which players
# start three segments behind the edge. LL-HLS (the default) cuts one GOP per segment as well
# (LL_SEGMENT_SECONDS), in parts.
SEGMENT_SECONDS = 1
GOP_SECONDS = 1
# The live playlist is a sliding window (~20 s); with recording on, segments that fall out
# of it stay on disk for the VOD job, so the window bounds the playlist, not the recording.
LIVE_WINDOW_SEGMENTS = 20
MASTER_NAME = "master.m3u8"
# ffmpeg's own master lacks FRAME-RATE; the worker publishes the completed copy as MASTER_NAME,
# so players never see an incomplete one.
FFMPEG_MASTER_NAME = "master.ffmpeg.m3u8"
PLAYLIST_NAME = "index.m3u8"
THUMBNAIL_WIDTH = 640
THUMBNAIL_SECONDS = 30
# Every AAC the ladder encodes: stereo at 48 kHz, 1,024 samples a frame (part_plan's cut counts on it).
AUDIO_RATE = 48000
AAC_ENCODE = ["-c:a", "aac", "-ac", "2", "-ar", str(AUDIO_RATE)]
# x264 preset names map onto NVENC's p1 (fastest) .. p7 (best), and onto Quick Sync's (whose
# fastest is veryfast). VAAPI has no presets.
NVENC_PRESETS = {"veryfast": "p4", "superfast": "p2", "ultrafast": "p1"}
QSV_PRESETS = {"veryfast": "faster", "superfast": "veryfast", "ultrafast": "veryfast"}
# The GPU's scaler per hardware encoder (frames stay on the GPU from decode or upload to encode);
# each takes the size as its options w and h.
GPU_SCALERS = {NVENC: "scale_cuda", QSV: "scale_qsv", VAAPI: "scale_vaapi"}


def gop_frames(rung: Rung) -> int:
    """Frames per GOP: the same second for every rung, so keyframes line up across renditions."""
    return max(1, round(rung.fps * GOP_SECONDS))


def input_args(input_url: str, encoder: Encoder, *, live: bool = True) -> list[str]:
    args = encoder.device_args()
    if encoder.name == NVENC:
        # Decode on the GPU and keep frames there for scale_cuda.
        args += ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"]
    if live:
        # A stalled publisher makes ffmpeg give up after 10 s instead of hanging forever; the
        # worker decides whether to restart. Short probing gets the first segment out sooner.
        args += ["-rw_timeout", "10000000", "-probesize", "1000000", "-analyzeduration", "2000000"]
    return args + ["-i", input_url]


def _thumbnail_chain(video: Any, encoder: Encoder, every: int = THUMBNAIL_SECONDS) -> Any:
    # The first frame at once, then one every `every` seconds of stream time. ffmpeg pads
    # this output back to the stream's frame rate when the next pick arrives (a burst of
    # identical JPEGs every 30 s, a few % of one core); without padding (-fps_mode
    # passthrough/vfr) ffmpeg 5.1 holds the JPEG back until the stream ends, and thinning
    # with fps=1 first gave no JPEG at all from a live RTMP input.
    # ffmpeg 5.1 also holds a picked frame until the next pick when the input is a pipe (the
    # worker's relay): so every pick takes the frame after it too, which releases it at once.
    # (ffmpeg-python escapes the expression's commas for the graph.)
    video = video.filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{every})"
                                   "+eq(mod(selected_n,2),1)*eq(n-prev_selected_n,1)")
    if encoder.is_gpu:
        video = video.filter("hwdownload").filter("format", "nv12")
    # Full-range yuv420p is what mjpeg wants, without swscale's "deprecated pixel format" warning.
    return video.filter("scale", THUMBNAIL_WIDTH, -2, out_range="full").filter("format", "yuv420p")


@dataclass(frozen=True)
class FilterGraph:
    """A transcode's -filter_complex and the labels its outputs map: each rung's, in rung order,
    and the thumbnail's (None without one)."""
    text: str
    rungs: tuple[str, ...]
    thumbnail: str | None


def filter_graph(rungs: Sequence[Rung], encoder: Encoder, source_fps: float | None,
                 thumbnail: bool = True, keep_rate: bool = False) -> FilterGraph:
    """`split` the one decoded video into a scaled (and, if lower, frame-rate capped, unless
    `keep_rate`) chain per rung, and the thumbnail's.

    Built with ffmpeg-python and compiled by it; each chain's end is found by the `-map` its
    stand-in output gets (the input and outputs here are placeholders, only the graph is kept).
    """
    video = ffmpeg_python.input("input")["v:0"]
    if encoder.uploads:
        for step in encoder.upload_filters():
            video = video.filter(step.name, *step.args, **step.options)
    split = video.filter_multi_output("split")
    ends = {}
    for i, rung in enumerate(rungs):
        chain = split[i]
        if not keep_rate and (source_fps is None or rung.fps < source_fps - 0.01):
            chain = chain.filter("fps", rung.fps)
        if encoder.is_gpu:
            chain = chain.filter(GPU_SCALERS[encoder.name], w=rung.width, h=rung.height)
        else:
            chain = chain.filter("scale", rung.width, rung.height).filter("setsar", 1).filter("format", "yuv420p")
        ends[f"rung{i}"] = chain
    if thumbnail:
        ends["thumbnail"] = _thumbnail_chain(split[len(rungs)], encoder)
    args: list[str] = ffmpeg_python.merge_outputs(*(end.output(name) for name, end in ends.items())).get_args()
    labels = {args[at + 2]: args[at + 1] for at, arg in enumerate(args) if arg == "-map"}
    return FilterGraph(text=args[args.index("-filter_complex") + 1],
                       rungs=tuple(labels[f"rung{i}"] for i in range(len(rungs))),
                       thumbnail=labels.get("thumbnail"))


def video_codec_args(rungs: Sequence[Rung], encoder: Encoder, preset: str) -> list[str]:
    # Every GPU encoder: no B-frames, each keyframe an IDR (-idr_interval 0: every GOP opens
    # with one; forced keyframes become IDRs too), one frame in flight (latency).
    if encoder.name == NVENC:
        args = ["-c:v", NVENC, "-preset", NVENC_PRESETS.get(preset, "p4"), "-tune", "ll",
                "-rc", "cbr", "-bf", "0", "-no-scenecut", "1", "-forced-idr", "1"]
    elif encoder.name == QSV:
        args = ["-c:v", QSV, "-preset", QSV_PRESETS.get(preset, "faster"), "-look_ahead", "0",
                "-bf", "0", "-idr_interval", "0", "-forced_idr", "1", "-async_depth", "1"]
    elif encoder.name == VAAPI:
        args = ["-c:v", VAAPI, "-rc_mode", "VBR", "-bf", "0", "-idr_interval", "0", "-async_depth", "1"]
    else:
        args = ["-c:v", X264, "-preset", preset, "-tune", "zerolatency", "-profile:v", "high",
                "-sc_threshold", "0", "-bf", "0"]
    for i, rung in enumerate(rungs):
        gop = str(gop_frames(rung))
        args += [f"-g:v:{i}", gop, f"-keyint_min:v:{i}", gop,
                 f"-b:v:{i}", f"{rung.video_kbps}k",
                 f"-maxrate:v:{i}", f"{rung.maxrate_kbps}k",
                 f"-bufsize:v:{i}", f"{rung.bufsize_kbps}k"]
    return args


def audio_codec_args(rungs: Sequence[Rung]) -> list[str]:
    args = list(AAC_ENCODE)
    for i, rung in enumerate(rungs):
        args += [f"-b:a:{i}", f"{rung.audio_kbps}k"]
    return args


def var_stream_map(rungs: Sequence[Rung], has_audio: bool) -> str:
    """`v:0,a:0,name:720p ...`: one variant per rung, named so paths read `<out>/720p/index.m3u8`."""
    return " ".join(f"v:{i},a:{i},name:{r.name}" if has_audio else f"v:{i},name:{r.name}"
                    for i, r in enumerate(rungs))


def hls_args(out_dir: str, rungs: Sequence[Rung], *, has_audio: bool, record: bool,
             start_number: int, list_size: int = LIVE_WINDOW_SEGMENTS,
             var_streams: str | None = None) -> list[str]:
    flags = ["independent_segments", "program_date_time", "temp_file"]
    if not record:
        flags.append("delete_segments")
    out = out_dir.rstrip("/")
    return [
        "-f", "hls",
        "-hls_time", str(SEGMENT_SECONDS),
        "-hls_list_size", str(list_size),
        "-hls_segment_type", "fmp4",
        # A restart starts numbering (and names its init section) after every earlier run's
        # files, so it never overwrites a recorded segment or an init a segment still needs.
        "-start_number", str(start_number),
        # ffmpeg 5.1 fills in %v only with two or more variants: one rung names it itself
        # (a literal "%v" file is no valid URL path or storage key).
        "-hls_fmp4_init_filename", f"init-{start_number}-{'%v' if len(rungs) > 1 else rungs[0].name}.mp4",
        "-hls_segment_filename", f"{out}/%v/seg_%d.m4s",
        "-hls_flags", "+".join(flags),
        "-master_pl_name", FFMPEG_MASTER_NAME,
        "-var_stream_map", var_streams or var_stream_map(rungs, has_audio),
        f"{out}/%v/{PLAYLIST_NAME}",
    ]


def transcode_args(input_url: str, out_dir: str, rungs: Sequence[Rung], *,
                   encoder: Encoder = Encoder(X264), preset: str = DEFAULT_PRESET,
                   has_audio: bool = True, source_fps: float | None = None, record: bool = True,
                   thumbnail_path: str | None = None, start_number: int = 0,
                   progress: str | None = "pipe:1", live_input: bool = True,
                   ffmpeg: str = "ffmpeg", loglevel: str = "warning") -> list[str]:
    """The whole ffmpeg command for one live transcode.

    `progress` is where `-progress` writes key=value blocks (None for none); `thumbnail_path`
    adds a JPEG output from the same decode, rewritten in place every 30 s.
    """
    args, graph = _decode_args(input_url, rungs, encoder=encoder, source_fps=source_fps,
                               thumbnail=thumbnail_path is not None, progress=progress,
                               live_input=live_input, ffmpeg=ffmpeg, loglevel=loglevel)
    for video in graph.rungs:
        args += ["-map", video]
        if has_audio:
            args += ["-map", "0:a:0"]
    args += video_codec_args(rungs, encoder, preset)
    if has_audio:
        args += audio_codec_args(rungs)
    args += hls_args(out_dir, rungs, has_audio=has_audio, record=record, start_number=start_number)
    return args + _thumbnail_output(thumbnail_path, graph)


def _decode_args(input_url: str, rungs: Sequence[Rung], *, encoder: Encoder, source_fps: float | None,
                 thumbnail: bool, progress: str | None, live_input: bool, ffmpeg: str,
                 loglevel: str, copyts: bool = False, keep_rate: bool = False) -> tuple[list[str], FilterGraph]:
    """Everything before the outputs: logging, progress, the input and the split filter graph
    (`keep_rate`: every rung at the source's frame rate, frame for frame); and the graph, whose
    labels the outputs map."""
    if not rungs:
        raise ValueError("a transcode needs at least one rung")
    args = _head(progress, ffmpeg, loglevel, copyts=copyts)
    args += input_args(input_url, encoder, live=live_input)
    graph = filter_graph(rungs, encoder, source_fps, thumbnail=thumbnail, keep_rate=keep_rate)
    return [*args, "-filter_complex", graph.text], graph


def _head(progress: str | None, ffmpeg: str, loglevel: str, *, copyts: bool = False) -> list[str]:
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", loglevel, "-nostats", "-y"]
    if progress:
        args += ["-progress", progress, "-stats_period", "1"]
    return args + (["-copyts"] if copyts else [])


# The thumbnail output's frame rate. ffmpeg pads it with copies of the last picture up to the
# next pick (see _thumbnail_chain); at the stream's own rate that was 900 JPEGs encoded at once
# every 30 s, which held every rendition's next part for 1.1-1.4 s (a player's blocking playlist
# request timed out and it stalled, every 30 s). At one frame per 5 s the padding is 6 pictures.
THUMBNAIL_RATE = Fraction(1, 5)


def _thumbnail_output(thumbnail_path: str | None, graph: FilterGraph) -> list[str]:
    if not thumbnail_path or graph.thumbnail is None:
        return []
    return ["-map", graph.thumbnail, "-an", "-r", str(THUMBNAIL_RATE), "-c:v", "mjpeg", "-strict", "unofficial",
            "-q:v", "4", "-f", "image2", "-update", "1", thumbnail_path]


# --- LL-HLS: each rung as fragmented CMAF MP4 on its own pipe, packaged by app.media.llhls ---

# About 1/3 s parts (10 frames at 30 fps; never below 0.2 s). 0.2 s parts (PART-HOLD-BACK 0.6 s,
# where hls.js and Shaka put themselves by default) broke the 85 % rule after an encoder restart:
# the restarted run's audio starts earlier than its video and cut a part a frame short (5 of 6).
LL_PART_SECONDS = 1 / 3
LL_SEGMENT_SECONDS = 1.0  # one GOP per segment


@dataclass(frozen=True)
class PartPlan:
    """How a rung is cut: whole frames per part, whole parts per GOP, and ffmpeg's -frag_duration."""
    frames_per_part: int
    parts_per_gop: int
    frag_duration_us: int
    part_target: float

    @property
    def gop_frames(self) -> int:
        return self.frames_per_part * self.parts_per_gop


def source_time_part_plan(fps: float) -> PartPlan:
    """part_plan for renditions on the source's own frame times (a passthrough, and renditions
    added to it). The publisher's timestamps are whole milliseconds (FLV) and jitter: one frame
    of slack keeps every part within PART-TARGET. Copied audio is not aligned with the video,
    and ffmpeg cuts a fragment when either track reaches -frag_duration: asked for N - 1/2
    frames, the audio cut parts of N - 1 frames (under 85 % of the target); N + 1/2 gives N or
    N + 1, both fit."""
    plan = part_plan(fps)
    # A part of N frames must be 85 % of the N + 1 frames' target: N >= 6 (6/7 = 86 %).
    frames = max(plan.frames_per_part, 6)
    return PartPlan(frames_per_part=frames, parts_per_gop=plan.parts_per_gop,
                    frag_duration_us=round((frames + 0.5) / fps * 1_000_000),
                    part_target=math.ceil((frames + 1) / fps * 1000) / 1000)


def part_plan(fps: float, part_seconds: float = LL_PART_SECONDS,
              segment_seconds: float = LL_SEGMENT_SECONDS) -> PartPlan:
    """Parts of whole frames, and a GOP of whole parts, so every part but none is short.

    ffmpeg (5.1) starts a new fragment once the current one holds at least -frag_duration, so
    asking for just under N frames gives parts of N frames (_exact_frames_us keeps the audio from
    closing one a frame early); a GOP that is a multiple of N leaves no short part before each
    keyframe.
    """
    if fps <= 0:
        raise ValueError("frame rate must be positive")
    frames = max(1, round(fps * part_seconds))
    while frames / fps < 0.2:  # the spec's floor for parts
        frames += 1
    parts = max(1, round(segment_seconds / (frames / fps)))
    return PartPlan(frames_per_part=frames, parts_per_gop=parts,
                    frag_duration_us=_exact_frames_us(frames, fps),
                    part_target=math.ceil(frames / fps * 1000) / 1000)


AAC_FRAME_SECONDS = 1024 / AUDIO_RATE


def _exact_frames_us(frames: int, fps: float) -> int:
    """-frag_duration for fragments of exactly `frames` video frames. ffmpeg (5.1) closes a
    fragment when a packet of *either* track would take that track past -frag_duration. Just
    under N frames, the video closes it on its Nth frame; it must also be above the last whole
    AAC frame before N frames, or the audio (whose first sample in a fragment may come up to a
    frame before the video's) closes it first, a frame early: a part of N - 1 frames and a one-
    or two-frame part before each keyframe, where hls.js stalled on a 26 ms hole (docs/latency.md)."""
    part = frames / fps
    audio_below = math.floor(part / AAC_FRAME_SECONDS - 1e-9) * AAC_FRAME_SECONDS
    low = max((frames - 1) / fps, audio_below)
    return round((low + part) / 2 * 1_000_000)


CMAF_MOVFLAGS = "empty_moov+default_base_moof+frag_keyframe+cmaf"
# Every run's video in the same timescale: ffmpeg derives it from the frame rate it probed, which
# a restart joining mid-stream may read differently (179/6 for 30), and the VOD's concat demuxer
# joins runs without rescaling them (its MP4 drifted 22 s from the audio).
VIDEO_TIMESCALE = ["-video_track_timescale", "90000"]
# With -copyts, fragments carry the source's own timestamps (ffmpeg's mp4 muxer otherwise starts
# every run at zero): a passthrough and the renditions added to it later share one timeline.
SOURCE_TIME_MOVFLAGS = CMAF_MOVFLAGS + "+frag_discont"


def ll_output_args(video: str, rung: Rung, plan: PartPlan, fd: int, *, has_audio: bool,
                   encoder: Encoder = Encoder(X264), preset: str = DEFAULT_PRESET,
                   follow_source: bool = False, copy_audio: bool = False) -> list[str]:
    """One rung's output: its video (the filter graph's label `video`, FilterGraph.rungs) and
    the audio, muxed as fragmented CMAF MP4 to pipe `fd`.

    ffmpeg's output options belong to the next output file only, so every rung repeats them.
    `follow_source`: keyframes exactly where the source has them and the source's timestamps
    kept (with -copyts), instead of a fixed GOP (ll_added_rungs_args).
    """
    args = ["-map", video]
    if has_audio:
        args += ["-map", "0:a:0"]
    args += video_codec_args([], encoder, preset)
    if has_audio:
        args += ["-c:a", "copy"] if copy_audio else AAC_ENCODE
    if follow_source:
        # x264 adds a keyframe of its own only if the source has none for twice the longest GOP
        # a passthrough serves; frames keep the source's (millisecond) times.
        longest = str(max(1, round(rung.fps * 8)))
        args += ["-force_key_frames", "source", "-g", longest, "-fps_mode", "passthrough",
                 "-enc_time_base:v", "-1"]
    else:
        gop = str(plan.gop_frames)
        args += ["-g", gop, "-keyint_min", gop]
    args += ["-b:v", f"{rung.video_kbps}k", "-maxrate", f"{rung.maxrate_kbps}k",
             "-bufsize", f"{rung.bufsize_kbps}k"]
    if has_audio and not copy_audio:
        args += ["-b:a", f"{rung.audio_kbps}k"]
    return args + ["-f", "mp4", "-movflags", SOURCE_TIME_MOVFLAGS if follow_source else CMAF_MOVFLAGS,
                   *VIDEO_TIMESCALE, "-frag_duration", str(plan.frag_duration_us), f"pipe:{fd}"]


def ll_transcode_args(input_url: str, rungs: Sequence[Rung], plans: Sequence[PartPlan],
                      fds: Sequence[int], *, encoder: Encoder = Encoder(X264),
                      preset: str = DEFAULT_PRESET, has_audio: bool = True,
                      source_fps: float | None = None, thumbnail_path: str | None = None,
                      progress: str | None = "pipe:1", live_input: bool = True,
                      ffmpeg: str = "ffmpeg", loglevel: str = "warning", skip: float = 0.0) -> list[str]:
    """The whole ffmpeg command for one LL-HLS live transcode: the same decode and split as
    transcode_args, each rung written as CMAF fragments to its pipe in `fds` (run it with
    pass_fds=fds), and the thumbnail output. `skip`: seconds of input decoded but not output
    (the input starts at a keyframe before where the output must start), frame-exact."""
    if not len(rungs) == len(plans) == len(fds):
        raise ValueError("every rung needs its part plan and its pipe")
    args, graph = _decode_args(input_url, rungs, encoder=encoder, source_fps=source_fps,
                               thumbnail=thumbnail_path is not None, progress=progress,
                               live_input=live_input, ffmpeg=ffmpeg, loglevel=loglevel)
    # An output's -ss: frames before it are decoded and dropped, and its time starts there.
    trim = ["-ss", f"{skip:.3f}"] if skip > 0 else []
    for video, rung, plan, fd in zip(graph.rungs, rungs, plans, fds):
        args += trim + ll_output_args(video, rung, plan, fd, has_audio=has_audio, encoder=encoder,
                                      preset=preset)
    return args + _thumbnail_output(thumbnail_path, graph)


def ll_added_rungs_args(input_url: str, rungs: Sequence[Rung], plans: Sequence[PartPlan],
                        fds: Sequence[int], *, encoder: Encoder = Encoder(X264),
                        preset: str = DEFAULT_PRESET, has_audio: bool = True, copy_audio: bool = True,
                        progress: str | None = "pipe:1", live_input: bool = True,
                        ffmpeg: str = "ffmpeg", loglevel: str = "warning") -> list[str]:
    """Lower renditions added beside a running LL-HLS passthrough (LadderPackager.extend): one
    decode, a scaled chain per rung at the source's frame rate, keyframes where the source has
    them and the source's timestamps, so their segments line up with the passthrough's."""
    if not len(rungs) == len(plans) == len(fds):
        raise ValueError("every rung needs its part plan and its pipe")
    args, graph = _decode_args(input_url, rungs, encoder=encoder, source_fps=None, thumbnail=False,
                               progress=progress, live_input=live_input, ffmpeg=ffmpeg, loglevel=loglevel,
                               copyts=True, keep_rate=True)
    for video, rung, plan, fd in zip(graph.rungs, rungs, plans, fds):
        args += ll_output_args(video, rung, plan, fd, has_audio=has_audio, encoder=encoder, preset=preset,
                               follow_source=True, copy_audio=copy_audio)
    return args


def ll_target_duration(rungs: Sequence[Rung], plans: Sequence[PartPlan]) -> int:
    """EXT-X-TARGETDURATION for a ladder whose segments are one GOP each (rounded, as §4.4.3.1
    compares it with each EXTINF rounded to the nearest integer)."""
    return max(1, max(round(plan.gop_frames / rung.fps) for rung, plan in zip(rungs, plans)))


# --- Source passthrough: the publisher's H.264 (and AAC) repackaged, never decoded -----------

def _passthrough_streams(has_audio: bool, copy_audio: bool) -> list[str]:
    args = ["-map", "0:v:0"]
    if has_audio:
        args += ["-map", "0:a:0"]
    args += ["-c:v", "copy"]
    if has_audio:
        # AAC is copied; anything else (MP3 from an old encoder) costs one cheap AAC encode.
        args += ["-c:a", "copy"] if copy_audio else [*AAC_ENCODE, "-b:a", "128k"]
    return args


def ll_passthrough_args(input_url: str, plan: PartPlan, fd: int, *, has_audio: bool = True,
                        copy_audio: bool = True, progress: str | None = "pipe:1",
                        live_input: bool = True, ffmpeg: str = "ffmpeg",
                        loglevel: str = "warning") -> list[str]:
    """LL-HLS passthrough: the source's streams as fragmented CMAF MP4 on pipe `fd` (cut into parts
    by -frag_duration and at every keyframe) for one RenditionPackager; no decode, no encode.
    The source's timestamps are kept, for renditions added later (ll_added_rungs_args)."""
    args = _head(progress, ffmpeg, loglevel, copyts=True)
    args += input_args(input_url, Encoder(X264), live=live_input)
    args += _passthrough_streams(has_audio, copy_audio)
    return args + ["-f", "mp4", "-movflags", SOURCE_TIME_MOVFLAGS, *VIDEO_TIMESCALE,
                   "-frag_duration", str(plan.frag_duration_us), f"pipe:{fd}"]


def classic_passthrough_args(input_url: str, out_dir: str, rung: Rung, *, has_audio: bool = True,
                             copy_audio: bool = True, record: bool = True, start_number: int = 0,
                             progress: str | None = "pipe:1", live_input: bool = True,
                             ffmpeg: str = "ffmpeg", loglevel: str = "warning") -> list[str]:
    """Classic HLS passthrough: ffmpeg's HLS muxer cuts the source at its keyframes (segments are
    one GOP each) into `<out>/<rung>/`, with the same names and master as a one-rung ladder."""
    args = _head(progress, ffmpeg, loglevel)
    args += input_args(input_url, Encoder(X264), live=live_input)
    args += _passthrough_streams(has_audio, copy_audio)
    return args + hls_args(out_dir, [rung], has_audio=has_audio, record=record, start_number=start_number,
                           var_streams=f"v:0,a:0,name:{rung.name}" if has_audio else f"v:0,name:{rung.name}")


# --- the VOD builder (workers/vod.py) ------------------------------------------------------------

# The seek previews' sprites: tiles of THUMB_WIDTH x THUMB_HEIGHT, SPRITE_COLUMNS x SPRITE_ROWS to
# a sprite. `sprite_filter` draws them; app.media.vod's WebVTT cues point into them.
THUMB_WIDTH, THUMB_HEIGHT = 160, 90
SPRITE_COLUMNS, SPRITE_ROWS = 10, 10
POSTER_MAX_WIDTH = 1280


def run_sources(init_path: str, segment_paths: Sequence[str]) -> str:
    """The `concatf:` list of one run: its init section, then its segments, byte after byte —
    a fragmented MP4 ffmpeg reads without the files being copied into one."""
    paths = [init_path, *segment_paths]
    if any("\n" in path or "\r" in path for path in paths):
        raise ValueError("a file name with a line break cannot go in a concatf list")
    return "".join(f"file:{path}\n" for path in paths)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def concat_script(runs: Sequence[tuple[str, float]]) -> str:
    """An ffconcat script joining runs (each a `concatf:` list file and its duration): ffmpeg's
    concat demuxer makes one timeline of them, so restarts play back to back."""
    if not runs:
        raise ValueError("nothing to join")
    lines = ["ffconcat version 1.0"]
    for list_path, duration in runs:
        lines += [f"file {_quoted('concatf:' + list_path)}", f"duration {duration:.3f}"]
    return "\n".join(lines) + "\n"


def _input(script: str, ffmpeg: str, before: Sequence[str] = ()) -> list[str]:
    return [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *before,
            "-f", "concat", "-safe", "0", "-protocol_whitelist", "file,concatf", "-i", script]


def mp4_args(script: str, output: str, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """Stream-copy the joined runs into one MP4 with its index at the front, so a download
    starts playing before it has arrived."""
    return _input(script, ffmpeg) + ["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
                                     "-movflags", "+faststart", "-f", "mp4", output]


def sprite_filter(interval: int) -> str:
    """One thumbnail every `interval` s, letterboxed to 160x90, tiled 10x10 per sprite."""
    return (f"fps=1/{interval},"
            f"scale={THUMB_WIDTH}:{THUMB_HEIGHT}:force_original_aspect_ratio=decrease,"
            f"pad={THUMB_WIDTH}:{THUMB_HEIGHT}:-1:-1,setsar=1,"
            f"tile={SPRITE_COLUMNS}x{SPRITE_ROWS}")


def sprite_args(script: str, pattern: str, interval: int, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """All sprites in one pass. Only keyframes are decoded (`-skip_frame nokey`): every live
    segment starts with one, at least a second apart, and a thumbnail every `interval` >= 2 s
    needs no frame between them, so an hour decodes in seconds instead of a minute."""
    return _input(script, ffmpeg, ["-skip_frame", "nokey"]) + [
        "-map", "0:v:0", "-an", "-vf", sprite_filter(interval), "-q:v", "5",
        "-start_number", "0", "-f", "image2", pattern]


def poster_args(script: str, at: float, output: str, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """One frame `at` seconds in, at most 1280 wide."""
    return _input(script, ffmpeg, ["-ss", f"{at:.3f}"]) + [
        "-map", "0:v:0", "-an", "-frames:v", "1",
        "-vf", f"scale='min({POSTER_MAX_WIDTH},iw)':-2,setsar=1", "-q:v", "3",
        "-f", "image2", "-update", "1", output]


# --- the relay (workers/relay.py) ----------------------------------------------------------------

# The relay's spool: one FLV file per publisher GOP, cut at the first keyframe past SPOOL_CUT
# seconds; ffmpeg's segment muxer names file n SPOOL_FILE.format(n) (its SPOOL_PATTERN).
SPOOL_CUT = 1
SPOOL_FILE = "{:08d}.flv"
SPOOL_PATTERN = "%08d.flv"
# Characters that would end a path inside ffmpeg's tee output list.
TEE_SPECIAL = set("[]|:;,\\'=")


def tee_safe(path: Path) -> bool:
    """Whether ffmpeg's tee output list can name `path`."""
    return not TEE_SPECIAL & set(str(path))


def relay_args(pull_url: str, spool: Path | None = None) -> list[str]:
    """The relay's ffmpeg: the stream as FLV on stdout and, with `spool`, also in files there
    (`onfail=ignore`: when the reader of stdout dies, the spool goes on alone)."""
    return _relay_input(pull_url) + _relay_output(spool)


def _relay_output(spool: Path | None) -> list[str]:
    if spool is None:
        return ["-f", "flv", "-flvflags", "no_duration_filesize", "pipe:1"]
    if not tee_safe(spool):
        raise ValueError(f"a spool path ffmpeg's tee cannot take: {spool}")
    pipe = "[f=flv:flvflags=no_duration_filesize:onfail=ignore]pipe:1"
    files = (f"[f=segment:segment_format=flv:segment_time={SPOOL_CUT}:"
             f"segment_format_options=flush_packets=1:onfail=ignore{spool_target(spool)}")
    return ["-f", "tee", f"{pipe}|{files}"]


def spool_target(spool: Path) -> str:
    """How the relay's command line names its spool files (what finds a running relay by it)."""
    return f"]{spool}/{SPOOL_PATTERN}"


def _relay_input(pull_url: str) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            # Give up when the ingest server sends nothing for 10 s (a publisher that never came).
            # ffmpeg writes nothing until it has seen a video keyframe (it needs the picture size):
            # joining mid-stream that is up to one GOP of the publisher's. Measuring the frame rate
            # as well (its default) held the first byte ~1.5 s longer; the probe measures it.
            "-rw_timeout", "10000000", "-fpsprobesize", "0", "-probesize", "262144",
            # The publisher's own timestamps, not restarted at zero by each pull: renditions added
            # to a running passthrough (workers.live.upgrade) pull again and must line up with it.
            "-copyts", "-i", pull_url, "-map", "0", "-c", "copy"]


# --- the live thumbnail of a passthrough session (workers/live/thumbnails.py) ---------------------


def snapshot_args(width: int = THUMBNAIL_WIDTH) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "mp4", "-i", "pipe:0",
            "-frames:v", "1", "-vf", f"scale={width}:-2:out_range=full,format=yuvj420p",
            "-q:v", "4", "-f", "image2", "-c:v", "mjpeg", "pipe:1"]


# --- the encoder trial (app.media.encoder_trial) --------------------------------------------------

TRIAL_SOURCE = ["-f", "lavfi", "-i", "color=black:s=256x144"]


def encoder_trial_args(encoder: Encoder, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """A one-frame trial encode with `encoder`, as the live ladder would use it (its GPU opened, the
    frame uploaded), written nowhere: whether it succeeds is whether `encoder` works here."""
    upload = ["-vf", encoder.upload_filter()] if encoder.uploads else []
    return [ffmpeg, "-hide_banner", "-loglevel", "error", *encoder.device_args(), *TRIAL_SOURCE, *upload,
            "-frames:v", "1", "-c:v", encoder.name, "-f", "null", "-"]


# --- the CPU calibration (workers/live/calibration.py) --------------------------------------------


def calibration_sample_args(output: str, *, width: int, height: int, fps: int, seconds: int,
                            ffmpeg: str = "ffmpeg") -> list[str]:
    """The calibration's sample: `seconds` of ffmpeg's testsrc2 pattern as H.264 in `output`, made
    quickly (ultrafast) with a keyframe every second, for the calibration to decode and transcode."""
    return [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
            "-i", f"testsrc2=size={width}x{height}:rate={fps}", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps), output]


def calibration_decode_args(sample: str, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """Decode `sample` and throw the pictures away: what decoding alone costs, which the calibration
    takes off each transcode's CPU."""
    return [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", sample, "-f", "null", "-"]
