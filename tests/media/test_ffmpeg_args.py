"""Every ffmpeg command, built without ffmpeg; the live transcode's then run once for real on a short
test pattern."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import replace

import pytest

from app.media import ffmpeg_args
from app.media.encoder import Encoder
from app.media.ffmpeg_args import classic_passthrough_args, gop_frames, relay_args, transcode_args, var_stream_map
from app.media.hls import complete_master, fix_master_playlist, master_is_complete
from app.media.ladder import Source, ladder_for, passthrough_rung

LADDER_720 = ladder_for(Source(1280, 720, 30))


def value_after(args, flag):
    return args[args.index(flag) + 1]


def build(**overrides):
    options = dict(source_fps=30, thumbnail_path="/out/work/thumb.jpg", start_number=100)
    options.update(overrides)
    return transcode_args("rtmp://127.0.0.1:1935/live/st-abc", "/out/hls/st-abc", LADDER_720, **options)


def test_one_ffmpeg_one_decode_split_into_every_rung_and_the_thumbnail():
    args = build()
    assert args[0] == "ffmpeg" and all(isinstance(a, str) for a in args)
    assert args.count("-i") == 1 and value_after(args, "-i") == "rtmp://127.0.0.1:1935/live/st-abc"
    graph = value_after(args, "-filter_complex")
    # ffmpeg-python names every link (one per filter); the select expression's commas escaped.
    assert graph == (
        "[0:v:0]split=4[s0][s1][s2][s3];"
        "[s0]scale=1280:720[s4];[s4]setsar=1[s5];[s5]format=yuv420p[s6];"
        "[s1]scale=854:480[s7];[s7]setsar=1[s8];[s8]format=yuv420p[s9];"
        "[s2]scale=640:360[s10];[s10]setsar=1[s11];[s11]format=yuv420p[s12];"
        "[s3]select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,30)"
        "+eq(mod(selected_n\\,2)\\,1)*eq(n-prev_selected_n\\,1)[s13];"
        "[s13]scale=640:-2:out_range=full[s14];[s14]format=yuv420p[s15]")
    assert "fps=" not in graph  # rungs at the source rate need no fps filter
    maps = [value for flag, value in zip(args, args[1:]) if flag == "-map"]
    assert maps == ["[s6]", "0:a:0", "[s9]", "0:a:0", "[s12]", "0:a:0", "[s15]"]
    assert args[-1] == "/out/work/thumb.jpg" and value_after(args, "-update") == "1"
    assert "-fps_mode" not in args  # without padding ffmpeg 5.1 writes the JPEG only at the end


def test_x264_settings_fixed_gop_and_per_rung_rates():
    args = build(preset="superfast")
    assert value_after(args, "-c:v") == "libx264"
    assert value_after(args, "-preset") == "superfast" and value_after(args, "-tune") == "zerolatency"
    assert value_after(args, "-sc_threshold") == "0" and value_after(args, "-bf") == "0"
    for i, rung in enumerate(LADDER_720):
        assert value_after(args, f"-g:v:{i}") == value_after(args, f"-keyint_min:v:{i}") == "30"
        assert value_after(args, f"-b:v:{i}") == f"{rung.video_kbps}k"
        assert value_after(args, f"-maxrate:v:{i}") == f"{rung.maxrate_kbps}k"
        assert value_after(args, f"-bufsize:v:{i}") == f"{rung.bufsize_kbps}k"
        assert value_after(args, f"-b:a:{i}") == "128k"
    assert value_after(args, "-c:a") == "aac"


def test_gop_is_one_second_at_every_rate():
    rungs = ladder_for(Source(1920, 1080, 60))
    assert [gop_frames(r) for r in rungs] == [60, 60, 30, 30]
    graph = value_after(transcode_args("in", "/o", rungs, source_fps=60), "-filter_complex")
    assert "[s2]fps=30[s10];[s10]scale=854:480" in graph and "[s3]fps=30[s14];[s14]scale=640:360" in graph
    assert "[s0]scale=1920:1080" in graph and "[s1]scale=1280:720" in graph


def test_cmaf_hls_with_named_variants_and_master():
    args = build()
    assert value_after(args, "-f") == "hls"
    assert value_after(args, "-hls_segment_type") == "fmp4"
    assert value_after(args, "-hls_time") == "1"
    assert value_after(args, "-master_pl_name") == "master.ffmpeg.m3u8"
    assert value_after(args, "-var_stream_map") == "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:360p"
    assert "/out/hls/st-abc/%v/index.m3u8" in args
    assert value_after(args, "-hls_segment_filename") == "/out/hls/st-abc/%v/seg_%d.m4s"
    assert value_after(args, "-start_number") == "100"
    assert value_after(args, "-hls_fmp4_init_filename") == "init-100-%v.mp4"
    assert value_after(args, "-progress") == "pipe:1"


@pytest.mark.parametrize("record,deletes", [(True, False), (False, True)])
def test_segments_are_deleted_only_when_not_recording(record, deletes):
    flags = value_after(build(record=record), "-hls_flags").split("+")
    assert {"independent_segments", "program_date_time"} <= set(flags)
    assert ("delete_segments" in flags) is deletes
    assert value_after(build(record=record), "-hls_list_size") == "20"


def test_no_audio_maps_no_audio():
    args = build(has_audio=False)
    assert "0:a:0" not in args and "-c:a" not in args
    assert value_after(args, "-var_stream_map") == "v:0,name:720p v:1,name:480p v:2,name:360p"
    assert var_stream_map(LADDER_720, True).count("a:") == 3


def test_nvenc_decodes_and_scales_on_the_gpu():
    args = build(encoder=Encoder("h264_nvenc"), preset="superfast")
    assert args.index("-hwaccel") < args.index("-i")
    assert value_after(args, "-hwaccel") == "cuda" and value_after(args, "-hwaccel_output_format") == "cuda"
    graph = value_after(args, "-filter_complex")
    assert "[s0]scale_cuda=h=720:w=1280[s4]" in graph and "[s2]scale_cuda=h=360:w=640[s6]" in graph
    assert "scale=1280" not in graph
    assert "[s7]hwdownload[s8];[s8]format=nv12[s9]" in graph  # the thumbnail comes back to system memory
    assert value_after(args, "-c:v") == "h264_nvenc" and value_after(args, "-preset") == "p2"
    assert "-sc_threshold" not in args and value_after(args, "-no-scenecut") == "1"
    assert value_after(args, "-g:v:0") == "30"


@pytest.mark.parametrize("name, scaler, preset", [("h264_qsv", "[s2]scale_qsv=h=720:w=1280[s6]", "veryfast"),
                                                   ("h264_vaapi", "[s2]scale_vaapi=h=720:w=1280[s6]", None)])
def test_quick_sync_and_vaapi_upload_once_and_scale_on_the_gpu(name, scaler, preset):
    # No GPU here: the command is checked; the filters and options are ffmpeg's own (below).
    args = build(encoder=Encoder(name, "/dev/dri/renderD128"), preset="superfast")
    devices = [value for flag, value in zip(args, args[1:]) if flag == "-init_hw_device"]
    assert devices[0] == "vaapi=" + ("va" if name == "h264_qsv" else "gpu") + ":/dev/dri/renderD128"
    assert args.index("-filter_hw_device") < args.index("-i") and "-hwaccel" not in args
    graph = value_after(args, "-filter_complex")
    upload = "hwupload=extra_hw_frames=16" if name == "h264_qsv" else "hwupload"
    # Decoded on the CPU, uploaded once.
    assert graph.startswith(f"[0:v:0]format=nv12[s0];[s0]{upload}[s1];[s1]split=4[s2][s3][s4][s5];")
    assert scaler in graph and "scale=1280" not in graph
    assert "[s9]hwdownload[s10];[s10]format=nv12[s11]" in graph  # the thumbnail comes back to system memory
    assert value_after(args, "-c:v") == name and value_after(args, "-bf") == "0"
    assert value_after(args, "-idr_interval") == "0" and value_after(args, "-async_depth") == "1"
    assert (value_after(args, "-preset") if "-preset" in args else None) == preset
    assert "-sc_threshold" not in args and value_after(args, "-g:v:0") == "30"


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_the_gpu_commands_name_filters_and_options_this_ffmpeg_has():
    filters = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    for name in ("scale_cuda", "scale_qsv", "scale_vaapi", "hwupload", "hwdownload"):
        assert f" {name} " in filters, name
    for scaler in ("scale_cuda", "scale_qsv", "scale_vaapi"):  # the size is given as w= and h=
        help_text = subprocess.run(["ffmpeg", "-hide_banner", "-h", f"filter={scaler}"],
                                   capture_output=True, text=True).stdout
        assert "\n   w " in help_text and "\n   h " in help_text, scaler
    for encoder, options in (("h264_qsv", ("-preset", "-look_ahead", "-idr_interval", "-forced_idr", "-async_depth")),
                             ("h264_vaapi", ("-rc_mode", "-idr_interval", "-async_depth"))):
        help_text = subprocess.run(["ffmpeg", "-hide_banner", "-h", f"encoder={encoder}"],
                                   capture_output=True, text=True).stdout
        for option in options:
            assert f"{option} " in help_text, (encoder, option)


def test_live_input_gives_up_on_a_stalled_publisher_but_files_do_not():
    assert value_after(build(), "-rw_timeout") == "10000000"
    assert "-rw_timeout" not in build(live_input=False)


def test_empty_ladder_is_refused():
    with pytest.raises(ValueError):
        transcode_args("in", "/o", ())


FFMPEG_MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=3990800,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
720p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=2340800,RESOLUTION=854x480,CODECS="avc1.64001f,mp4a.40.2"
480p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=1460800,RESOLUTION=640x360
360p/index.m3u8
"""


def test_master_gets_frame_rate_and_missing_codecs(tmp_path):
    text = complete_master(FFMPEG_MASTER, LADDER_720)
    assert master_is_complete(text, LADDER_720)
    assert text.count("FRAME-RATE=30.000") == 3
    assert 'RESOLUTION=640x360,FRAME-RATE=30.000,CODECS="avc1.64001e,mp4a.40.2"' in text
    path = tmp_path / "master.m3u8"
    path.write_text(FFMPEG_MASTER)
    assert fix_master_playlist(path, LADDER_720) and master_is_complete(path.read_text(), LADDER_720)
    partial = tmp_path / "partial.m3u8"
    partial.write_text(FFMPEG_MASTER.split("\n\n")[0])
    assert not fix_master_playlist(partial, LADDER_720)  # still being written: left alone
    assert not fix_master_playlist(tmp_path / "missing.m3u8", LADDER_720)


def test_master_denies_captions_unless_the_source_has_them(tmp_path):
    """CLOSED-CAPTIONS=NONE on every variant (§4.4.6.2): players need not search the media."""
    assert complete_master(FFMPEG_MASTER, LADDER_720).count(",CLOSED-CAPTIONS=NONE") == 3
    assert "CLOSED-CAPTIONS" not in complete_master(FFMPEG_MASTER, LADDER_720, closed_captions=True)
    path = tmp_path / "master.m3u8"
    path.write_text(complete_master(FFMPEG_MASTER, LADDER_720))
    before = path.stat().st_mtime_ns
    assert fix_master_playlist(path, LADDER_720) and path.stat().st_mtime_ns == before  # complete already


def ffprobe_json(path, *entries) -> dict:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", ",".join(entries), "-of", "json",
                             str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def decoded_size(rung_dir):
    """Width and height of a segment decoded with its init section (fMP4 needs both)."""
    init = next(rung_dir.glob("init-*.mp4"))
    segment = (sorted(rung_dir.glob("seg_*.m4s")) or sorted(rung_dir.glob("s[0-9]*.m4s")))[0]
    joined = rung_dir / "joined.mp4"
    joined.write_bytes(init.read_bytes() + segment.read_bytes())
    frames = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                             "-show_entries", "stream=width,height,nb_read_frames", "-of", "json",
                             str(joined)], capture_output=True, text=True, timeout=30)
    assert frames.returncode == 0, frames.stderr
    stream = json.loads(frames.stdout)["streams"][0]
    assert int(stream["nb_read_frames"]) > 0
    return stream["width"], stream["height"]


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_built_command_runs_and_writes_a_playable_ladder(tmp_path):
    source = tmp_path / "source.mkv"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30:duration=5", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000:duration=5", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", str(source)], check=True, timeout=60)
    out = tmp_path / "hls"
    thumb = tmp_path / "thumb.jpg"
    args = transcode_args(str(source), str(out), LADDER_720, source_fps=30, thumbnail_path=str(thumb),
                          start_number=7, live_input=False, progress=None, preset="ultrafast")
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    master = out / "master.m3u8"
    assert not master.exists()  # only the completed copy is ever published under this name
    assert fix_master_playlist(out / "master.ffmpeg.m3u8", LADDER_720, target=master)
    text = master.read_text()
    for line in (inf for inf in text.splitlines() if inf.startswith("#EXT-X-STREAM-INF")):
        for attribute in ("BANDWIDTH=", "RESOLUTION=", "CODECS=", "FRAME-RATE="):
            assert attribute in line
    assert [line for line in text.splitlines() if line.endswith(".m3u8")] == [
        "720p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"]
    for rung in LADDER_720:
        playlist = (out / rung.name / "index.m3u8").read_text()
        assert '#EXT-X-MAP:URI="init-7-' in playlist and "seg_7.m4s" in playlist
        assert decoded_size(out / rung.name) == (rung.width, rung.height)
    assert ffprobe_json(thumb, "stream=width")["streams"][0]["width"] == 640


@pytest.mark.parametrize("fps, frames, parts, target", [
    (30, 10, 3, 0.334), (29.97, 10, 3, 0.334), (25, 8, 3, 0.32), (60, 20, 3, 0.334),
    (24, 8, 3, 0.334), (50, 17, 3, 0.34), (15, 5, 3, 0.334), (5, 2, 2, 0.4),
])
def test_part_plan_cuts_whole_frames_and_whole_parts(fps, frames, parts, target):
    from app.media.ffmpeg_args import part_plan

    plan = part_plan(fps)
    assert (plan.frames_per_part, plan.parts_per_gop, plan.part_target) == (frames, parts, target)
    assert plan.frames_per_part / fps >= 0.2
    assert plan.gop_frames == frames * parts
    # Just short of N frames: ffmpeg closes the fragment on the Nth frame, and never on an
    # audio frame before it (the AAC frames' span reaches it only after N frames).
    duration = plan.frag_duration_us / 1e6
    assert (frames - 1) / fps < duration < frames / fps
    aac = 1024 / 48000
    assert math.floor(frames / fps / aac - 1e-9) * aac < duration


def test_ll_output_args_pipe_one_rung_as_cmaf():
    from app.media.ffmpeg_args import ll_output_args, part_plan

    rung = LADDER_720[0]
    args = ll_output_args("[s9]", rung, part_plan(30), 7, has_audio=True)
    assert args[:4] == ["-map", "[s9]", "-map", "0:a:0"]
    assert args[args.index("-c:v") + 1] == "libx264" and args[args.index("-bf") + 1] == "0"
    assert args[args.index("-c:a") + 1] == "aac"
    assert args[args.index("-g") + 1] == "30" and args[args.index("-keyint_min") + 1] == "30"
    assert "empty_moov+default_base_moof+frag_keyframe+cmaf" in args
    assert args[-3:] == ["-frag_duration", "326667", "pipe:7"]
    assert "-map" in ll_output_args("[s6]", rung, part_plan(30), 3, has_audio=False)
    assert "0:a:0" not in ll_output_args("[s6]", rung, part_plan(30), 3, has_audio=False)


def test_ll_transcode_args_one_decode_a_pipe_per_rung_and_the_thumbnail():
    from app.media.ffmpeg_args import ll_target_duration, ll_transcode_args, part_plan

    plans = [part_plan(rung.fps) for rung in LADDER_720]
    args = ll_transcode_args("rtmp://127.0.0.1:1935/live/st-abc", LADDER_720, plans, [5, 6, 7],
                             source_fps=30, thumbnail_path="/out/work/thumb.jpg")
    assert args.count("-i") == 1 and value_after(args, "-progress") == "pipe:1"
    assert value_after(args, "-filter_complex").startswith("[0:v:0]split=4[s0][s1][s2][s3]")
    maps = [value for flag, value in zip(args, args[1:]) if flag == "-map"]
    assert maps == ["[s6]", "0:a:0", "[s9]", "0:a:0", "[s12]", "0:a:0", "[s15]"]
    outputs = [arg for arg in args if arg.startswith("pipe:") and arg != "pipe:1"]
    assert outputs == ["pipe:5", "pipe:6", "pipe:7"]
    assert args.count("-frag_duration") == 3 and args[-1] == "/out/work/thumb.jpg"
    assert ll_target_duration(LADDER_720, plans) == 1
    with pytest.raises(ValueError, match="pipe"):
        ll_transcode_args("in", LADDER_720, plans, [5, 6])


def test_a_skip_starts_every_rung_later_and_leaves_the_thumbnail_alone():
    from app.media.ffmpeg_args import ll_transcode_args, part_plan

    plans = [part_plan(rung.fps) for rung in LADDER_720]
    plain = ll_transcode_args("pipe:0", LADDER_720, plans, [5, 6, 7], thumbnail_path="/t.jpg")
    skipped = ll_transcode_args("pipe:0", LADDER_720, plans, [5, 6, 7], thumbnail_path="/t.jpg", skip=0.6667)
    assert "-ss" not in plain
    # An output option: after the input, once before each rung's output, not before the JPEG's.
    starts = [index for index, arg in enumerate(skipped) if arg == "-ss"]
    assert [skipped[index + 1] for index in starts] == ["0.667"] * 3
    assert starts[0] > skipped.index("-i")
    assert [arg for arg in skipped if arg != "-ss" and arg != "0.667"] == plain


# --- source passthrough: no decode, no encode ----------------------------------------------------

SOURCE_1080 = Source(1920, 1080, 30, kbps=4500)


def test_ll_passthrough_copies_the_source_into_cmaf_parts_on_one_pipe():
    from app.media.ffmpeg_args import ll_passthrough_args, part_plan

    plan = part_plan(30)
    args = ll_passthrough_args("rtmp://127.0.0.1:1935/live/st-abc", plan, 9)
    assert args[0] == "ffmpeg" and all(isinstance(a, str) for a in args)
    assert args.count("-i") == 1 and value_after(args, "-i") == "rtmp://127.0.0.1:1935/live/st-abc"
    assert args[args.index("-i") + 2:args.index("-f")] == [
        "-map", "0:v:0", "-map", "0:a:0", "-c:v", "copy", "-c:a", "copy"]
    for encoding in ("-filter_complex", "libx264", "-preset", "-g", "-b:v", "-hwaccel", "-vf"):
        assert encoding not in args
    assert value_after(args, "-f") == "mp4"
    # The source's own timestamps, kept into the fragments, for renditions added later.
    assert "-copyts" in args[:args.index("-i")]
    assert value_after(args, "-movflags") == "empty_moov+default_base_moof+frag_keyframe+cmaf+frag_discont"
    assert args[-3:] == ["-frag_duration", str(plan.frag_duration_us), "pipe:9"]
    assert value_after(args, "-rw_timeout") == "10000000" and value_after(args, "-progress") == "pipe:1"


def test_source_time_parts_have_a_frame_of_slack_and_cut_half_a_frame_late():
    from app.media.ffmpeg_args import part_plan, source_time_part_plan

    plan, base = source_time_part_plan(30), part_plan(30)
    assert plan.frames_per_part == base.frames_per_part == 10
    assert plan.part_target == 0.367  # 11 frames, rounded up to the millisecond
    assert plan.frag_duration_us == round(10.5 / 30 * 1_000_000)


def test_added_rungs_keep_the_source_rate_keyframes_and_timestamps():
    from app.media.ffmpeg_args import ll_added_rungs_args, source_time_part_plan

    rungs = [replace(rung, fps=30.0) for rung in LADDER_720[1:]]
    plans = [source_time_part_plan(30) for _ in rungs]
    args = ll_added_rungs_args("pipe:0", rungs, plans, [7, 8], preset="veryfast")
    assert args.count("-i") == 1 and "-copyts" in args[:args.index("-i")]
    graph = value_after(args, "-filter_complex")
    assert graph.startswith("[0:v:0]split=2[s0][s1];") and "fps=" not in graph and "select=" not in graph
    assert [value for flag, value in zip(args, args[1:]) if flag == "-map"] == ["[s4]", "0:a:0", "[s7]", "0:a:0"]
    outputs = [index for index, arg in enumerate(args) if arg.startswith("pipe:") and arg not in ("pipe:0", "pipe:1")]
    assert [args[index] for index in outputs] == ["pipe:7", "pipe:8"]
    start = args.index("-map")
    for end in outputs:
        output = args[start:end + 1]
        assert value_after(output, "-force_key_frames") == "source"
        assert value_after(output, "-fps_mode") == "passthrough" and value_after(output, "-enc_time_base:v") == "-1"
        assert "-keyint_min" not in output and int(value_after(output, "-g")) >= 8 * 30
        assert value_after(output, "-c:a") == "copy" and "-b:a" not in output
        assert value_after(output, "-movflags").endswith("+frag_discont")
        start = end + 1
    reencoded = ll_added_rungs_args("pipe:0", rungs, plans, [7, 8], copy_audio=False)
    assert value_after(reencoded, "-c:a") == "aac" and "-b:a" in reencoded
    with pytest.raises(ValueError, match="pipe"):
        ll_added_rungs_args("pipe:0", rungs, plans, [7])


@pytest.mark.parametrize("has_audio, copy_audio, audio", [
    (True, True, ["-c:a", "copy"]),
    (True, False, ["-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k"]),  # MP3 from an old encoder
    (False, True, []),
])
def test_passthrough_copies_aac_reencodes_other_audio_and_maps_none_without(has_audio, copy_audio, audio):
    from app.media.ffmpeg_args import classic_passthrough_args, ll_passthrough_args, part_plan

    rung = passthrough_rung(SOURCE_1080)
    for args in (ll_passthrough_args("in", part_plan(30), 5, has_audio=has_audio, copy_audio=copy_audio),
                 classic_passthrough_args("in", "/o", rung, has_audio=has_audio, copy_audio=copy_audio)):
        assert ("0:a:0" in args) is has_audio
        expected = (["-map", "0:a:0"] if has_audio else []) + ["-c:v", "copy"] + audio
        streams = args[args.index("0:v:0") + 1:]
        assert streams[:len(expected) + 1] == expected + ["-f"]  # then the output, nothing else
        assert value_after(args, "-c:v") == "copy" and args.count("-c:a") == (1 if has_audio else 0)


def test_classic_passthrough_writes_one_variant_named_after_its_rung():
    from app.media.ffmpeg_args import classic_passthrough_args

    rung = passthrough_rung(SOURCE_1080)
    args = classic_passthrough_args("rtmp://127.0.0.1:1935/live/st-abc", "/out/hls/st-abc/", rung,
                                    start_number=40, record=False)
    assert value_after(args, "-c:v") == "copy" and "-filter_complex" not in args and "libx264" not in args
    assert value_after(args, "-f") == "hls" and value_after(args, "-hls_segment_type") == "fmp4"
    assert value_after(args, "-var_stream_map") == "v:0,a:0,name:1080p"
    assert value_after(args, "-hls_fmp4_init_filename") == "init-40-1080p.mp4"  # no literal %v
    assert value_after(args, "-hls_segment_filename") == "/out/hls/st-abc/%v/seg_%d.m4s"
    assert value_after(args, "-master_pl_name") == "master.ffmpeg.m3u8"
    assert "delete_segments" in value_after(args, "-hls_flags")
    assert args[-1] == "/out/hls/st-abc/%v/index.m3u8"
    silent = classic_passthrough_args("in", "/o", rung, has_audio=False)
    assert value_after(silent, "-var_stream_map") == "v:0,name:1080p"
    assert "delete_segments" not in value_after(silent, "-hls_flags")
    assert "-rw_timeout" not in classic_passthrough_args("in", "/o", rung, live_input=False, progress=None)


@pytest.fixture(scope="module")
def h264_mp3_source(tmp_path_factory):
    """Two seconds of H.264 with a keyframe every second and MP3 audio, in FLV as from RTMP."""
    path = tmp_path_factory.mktemp("passthrough") / "source.flv"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                    "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "libmp3lame",
                    "-f", "flv", str(path)], check=True, timeout=60)
    return path


def video_packets(path) -> list[tuple[str, str]]:
    """(pts_time, flags) of every video packet, as stored (not decoded)."""
    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "packet=pts_time,size,flags", "-of", "csv=p=0", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return [tuple(line.split(",")) for line in result.stdout.split()]


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_classic_passthrough_runs_and_keeps_the_publishers_video_bit_for_bit(tmp_path, h264_mp3_source):
    rung = passthrough_rung(Source(320, 240, 30, audio_codec="mp3"))
    out = tmp_path / "hls"
    args = classic_passthrough_args(str(h264_mp3_source), str(out), rung, copy_audio=False, start_number=3,
                                    live_input=False, progress=None)
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    playlist = (out / "240p" / "index.m3u8").read_text()
    assert '#EXT-X-MAP:URI="init-3-240p.mp4"' in playlist and "seg_3.m4s" in playlist
    assert decoded_size(out / "240p") == (320, 240)
    joined = out / "240p" / "joined.mp4"
    joined.write_bytes((out / "240p" / "init-3-240p.mp4").read_bytes()
                       + b"".join((out / "240p" / f"seg_{n}.m4s").read_bytes()
                                  for n in range(3, 3 + playlist.count("seg_"))))
    codecs = {s["codec_type"]: s["codec_name"] for s in ffprobe_json(joined, "stream=codec_type,codec_name")["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    # Copied, not re-encoded: the same packets with the same sizes, keyframes where the source had them.
    source_sizes = [(flags[0], size) for _, size, flags in video_packets(h264_mp3_source)]
    copied_sizes = [(flags[0], size) for _, size, flags in video_packets(joined)]
    assert copied_sizes == source_sizes


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_ll_passthrough_cuts_parts_of_whole_frames_and_starts_one_at_every_keyframe(h264_mp3_source):
    from app.media.ffmpeg_args import ll_passthrough_args, part_plan
    from app.media.fmp4 import InitSegment, read_fragments

    plan = part_plan(30)
    read_fd, write_fd = os.pipe()
    args = ll_passthrough_args(str(h264_mp3_source), plan, write_fd, copy_audio=False, live_input=False,
                               progress=None)
    process = subprocess.Popen(args, pass_fds=(write_fd,), stderr=subprocess.PIPE)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        items = list(read_fragments(pipe))
    assert process.wait(30) == 0, process.stderr.read().decode()
    process.stderr.close()
    init, parts = items[0], items[1:]
    assert isinstance(init, InitSegment) and init.codecs.startswith("avc1.") and "mp4a.40.2" in init.codecs
    assert sum(part.duration for part in parts) == pytest.approx(2.0, abs=0.05)
    starts = [round(part.start, 3) for part in parts if part.independent]
    # The source's keyframes, one a second, at the source's own times (-copyts).
    source_keyframes = [round(float(time), 3) for time, _, flags in video_packets(h264_mp3_source) if flags[0] == "K"]
    assert starts[:2] == source_keyframes[:2] and source_keyframes[1] - source_keyframes[0] == pytest.approx(1.0)
    assert all(part.duration <= plan.part_target + 1e-6 for part in parts)


# --- the VOD builder ------------------------------------------------------------------------------


def test_a_run_is_its_init_then_its_segments_as_one_file():
    assert ffmpeg_args.run_sources("/w/480p/init-0.mp4", ["/w/480p/s0.m4s", "/w/480p/s1.m4s"]) == (
        "file:/w/480p/init-0.mp4\nfile:/w/480p/s0.m4s\nfile:/w/480p/s1.m4s\n")
    with pytest.raises(ValueError):
        ffmpeg_args.run_sources("/w/init\n.mp4", [])


def test_the_concat_script_joins_runs_with_their_durations():
    assert ffmpeg_args.concat_script([("/w/top-run-0.txt", 8.0211), ("/w/it's.txt", 6)]) == (
        "ffconcat version 1.0\n"
        "file 'concatf:/w/top-run-0.txt'\nduration 8.021\n"
        "file 'concatf:/w/it'\\''s.txt'\nduration 6.000\n")
    with pytest.raises(ValueError):
        ffmpeg_args.concat_script([])


def concat_input(args, script):
    at = args.index("-i")
    assert args[at + 1] == script
    assert args[at - 6:at] == ["-f", "concat", "-safe", "0", "-protocol_whitelist", "file,concatf"]
    return at


def test_the_download_is_a_stream_copy_with_the_index_first():
    args = ffmpeg_args.mp4_args("/w/top.ffconcat", "/w/video.mp4", ffmpeg="/usr/bin/ffmpeg")
    assert args[0] == "/usr/bin/ffmpeg" and "-nostdin" in args
    at = concat_input(args, "/w/top.ffconcat")
    assert args[at + 2:] == ["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-movflags", "+faststart",
                             "-f", "mp4", "/w/video.mp4"]


def test_sprites_are_one_pass_over_keyframes():
    args = ffmpeg_args.sprite_args("/w/low.ffconcat", "/w/sprites/sprite-%d.jpg", 18)
    at = concat_input(args, "/w/low.ffconcat")
    assert args[args.index("-skip_frame") + 1] == "nokey" and args.index("-skip_frame") < at
    vf = args[args.index("-vf") + 1]
    assert vf.startswith("fps=1/18,scale=160:90:") and vf.endswith(",tile=10x10")
    assert "pad=160:90" in vf
    assert args[-1] == "/w/sprites/sprite-%d.jpg" and args[args.index("-start_number") + 1] == "0"
    assert "-an" in args and args.count("-i") == 1


def test_the_poster_seeks_then_takes_one_frame_at_most_1280_wide():
    args = ffmpeg_args.poster_args("/w/top.ffconcat", 2.0, "/w/poster.jpg")
    at = concat_input(args, "/w/top.ffconcat")
    assert args[args.index("-ss") + 1] == "2.000" and args.index("-ss") < at
    assert args[args.index("-frames:v") + 1] == "1"
    assert args[args.index("-vf") + 1].startswith("scale='min(1280,iw)':-2")
    assert args[-1] == "/w/poster.jpg"


# --- the relay ------------------------------------------------------------------------------------


def test_the_relay_copies_any_ffmpeg_input_as_flv():
    args = relay_args("/tmp/in.flv")
    assert args[args.index("-i") + 1] == "/tmp/in.flv"
    assert args[args.index("-c") + 1] == "copy" and args[-3:] == ["-flvflags", "no_duration_filesize", "pipe:1"]


def test_a_spool_path_the_tee_output_cannot_take_is_refused(tmp_path):
    assert relay_args("/tmp/in.flv", tmp_path / "spool")[-2] == "tee"
    with pytest.raises(ValueError):
        relay_args("/tmp/in.flv", tmp_path / "a|b")


# --- the encoder trial ----------------------------------------------------------------------------

# The trial commands as app.media.encoder built them before they moved here (`[ffmpeg, *trial_args]`).
TRIAL_COMMANDS = {
    Encoder("h264_nvenc"): [
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=black:s=256x144",
        "-frames:v", "1", "-c:v", "h264_nvenc", "-f", "null", "-"],
    Encoder("h264_vaapi", "/dev/dri/renderD128"): [
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error",
        "-init_hw_device", "vaapi=gpu:/dev/dri/renderD128", "-filter_hw_device", "gpu",
        "-f", "lavfi", "-i", "color=black:s=256x144", "-vf", "format=nv12,hwupload",
        "-frames:v", "1", "-c:v", "h264_vaapi", "-f", "null", "-"],
    Encoder("h264_qsv", "/dev/dri/renderD128"): [
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error",
        "-init_hw_device", "vaapi=va:/dev/dri/renderD128", "-init_hw_device", "qsv=gpu@va", "-filter_hw_device", "gpu",
        "-f", "lavfi", "-i", "color=black:s=256x144", "-vf", "format=nv12,hwupload=extra_hw_frames=16",
        "-frames:v", "1", "-c:v", "h264_qsv", "-f", "null", "-"],
    Encoder("libx264"): [
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=black:s=256x144",
        "-frames:v", "1", "-c:v", "libx264", "-f", "null", "-"],
}


@pytest.mark.parametrize("encoder", list(TRIAL_COMMANDS), ids=lambda encoder: encoder.name)
def test_the_encoder_trial_encodes_one_frame_as_the_ladder_would(encoder):
    args = ffmpeg_args.encoder_trial_args(encoder, ffmpeg="/usr/bin/ffmpeg")
    assert args == TRIAL_COMMANDS[encoder]
    assert args[-7:] == ["-frames:v", "1", "-c:v", encoder.name, "-f", "null", "-"]
    # The GPU is opened before the input and the frame uploaded to it, as in the live ladder.
    assert ("-vf" in args) is encoder.uploads and args.index("-i") > len(encoder.device_args())
    assert ffmpeg_args.encoder_trial_args(encoder)[0] == "ffmpeg"


# --- the CPU calibration --------------------------------------------------------------------------


def test_the_calibration_sample_is_a_quick_h264_test_pattern_with_a_keyframe_a_second():
    args = ffmpeg_args.calibration_sample_args("/tmp/c/sample.mp4", width=1280, height=720, fps=30, seconds=2,
                                               ffmpeg="/usr/bin/ffmpeg")
    # As workers/live/calibration.py built it before it moved here.
    assert args == ["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                    "-i", "testsrc2=size=1280x720:rate=30", "-t", "2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "/tmp/c/sample.mp4"]
    assert ffmpeg_args.calibration_sample_args("s.mp4", width=640, height=360, fps=25, seconds=1)[0] == "ffmpeg"


def test_the_calibration_decode_decodes_the_sample_and_writes_nothing():
    assert ffmpeg_args.calibration_decode_args("/tmp/c/sample.mp4", ffmpeg="/usr/bin/ffmpeg") == [
        "/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", "/tmp/c/sample.mp4",
        "-f", "null", "-"]
    assert ffmpeg_args.calibration_decode_args("s.mp4")[0] == "ffmpeg"


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_the_calibration_sample_runs_and_decodes(tmp_path):
    sample = str(tmp_path / "sample.mp4")
    subprocess.run(ffmpeg_args.calibration_sample_args(sample, width=320, height=180, fps=10, seconds=2),
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    keyframes = [time for time, _, flags in video_packets(sample) if flags[0] == "K"]
    assert len(video_packets(sample)) == 20 and [float(time) for time in keyframes] == [0.0, 1.0]
    subprocess.run(ffmpeg_args.calibration_decode_args(sample), check=True, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=60)
    assert sorted(os.listdir(tmp_path)) == ["sample.mp4"]
