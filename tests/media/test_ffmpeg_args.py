"""The live transcode command: built without ffmpeg, then run once for real on a short test pattern."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from app.media.encoder import Encoder
from app.media.ffmpeg_args import gop_frames, transcode_args, var_stream_map
from app.media.hls import complete_master, fix_master_playlist, master_is_complete
from app.media.ladder import Source, ladder_for

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
    assert graph.startswith("[0:v:0]split=4[s0][s1][s2][st];")
    assert "[s0]scale=1280:720" in graph and "[s1]scale=854:480" in graph and "[s2]scale=640:360" in graph
    assert "fps=" not in graph.split("[st]")[0]  # rungs at the source rate need no fps filter
    assert "prev_selected_t" in graph and "scale=640:-2" in graph
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
    assert "[s2]fps=30," in graph and "[s0]scale" in graph


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
    assert "scale_cuda=1280:720" in graph and "scale_cuda=640:360" in graph and "scale=1280" not in graph
    assert "hwdownload,format=nv12" in graph  # the thumbnail comes back to system memory
    assert value_after(args, "-c:v") == "h264_nvenc" and value_after(args, "-preset") == "p2"
    assert "-sc_threshold" not in args and value_after(args, "-no-scenecut") == "1"
    assert value_after(args, "-g:v:0") == "30"


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
    for line in (l for l in text.splitlines() if l.startswith("#EXT-X-STREAM-INF")):
        for attribute in ("BANDWIDTH=", "RESOLUTION=", "CODECS=", "FRAME-RATE="):
            assert attribute in line
    assert [l for l in text.splitlines() if l.endswith(".m3u8")] == [
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
    # Half a frame short of N frames: ffmpeg closes the fragment on the Nth frame.
    assert (frames - 1) / fps < plan.frag_duration_us / 1e6 < frames / fps


def test_ll_output_args_pipe_one_rung_as_cmaf():
    from app.media.ffmpeg_args import ll_output_args, part_plan

    rung = LADDER_720[0]
    args = ll_output_args(1, rung, part_plan(30), 7, has_audio=True)
    assert args[:4] == ["-map", "[v1]", "-map", "0:a:0"]
    assert args[args.index("-c:v") + 1] == "libx264" and args[args.index("-bf") + 1] == "0"
    assert args[args.index("-c:a") + 1] == "aac"
    assert args[args.index("-g") + 1] == "30" and args[args.index("-keyint_min") + 1] == "30"
    assert "empty_moov+default_base_moof+frag_keyframe+cmaf" in args
    assert args[-3:] == ["-frag_duration", "316667", "pipe:7"]
    assert "-map" in ll_output_args(0, rung, part_plan(30), 3, has_audio=False)
    assert "0:a:0" not in ll_output_args(0, rung, part_plan(30), 3, has_audio=False)


def test_ll_transcode_args_one_decode_a_pipe_per_rung_and_the_thumbnail():
    from app.media.ffmpeg_args import ll_target_duration, ll_transcode_args, part_plan

    plans = [part_plan(rung.fps) for rung in LADDER_720]
    args = ll_transcode_args("rtmp://127.0.0.1:1935/live/st-abc", LADDER_720, plans, [5, 6, 7],
                             source_fps=30, thumbnail_path="/out/work/thumb.jpg")
    assert args.count("-i") == 1 and value_after(args, "-progress") == "pipe:1"
    assert value_after(args, "-filter_complex").startswith("[0:v:0]split=4[s0][s1][s2][st]")
    outputs = [arg for arg in args if arg.startswith("pipe:") and arg != "pipe:1"]
    assert outputs == ["pipe:5", "pipe:6", "pipe:7"]
    assert args.count("-frag_duration") == 3 and args[-1] == "/out/work/thumb.jpg"
    assert ll_target_duration(LADDER_720, plans) == 1
    with pytest.raises(ValueError, match="pipe"):
        ll_transcode_args("in", LADDER_720, plans, [5, 6])
