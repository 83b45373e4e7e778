"""What a live host learns from probing a stream: size, frame rate, codecs, keyframes, bitrate."""
from __future__ import annotations

import subprocess

import ffmpeg
import pytest

from app.media.ladder import Source
from app.media.probe import PACKET_ENTRIES, keyframe_interval, parse_speed, probe, probe_args, source_from_probe


def video_packet(time: float, keyframe: bool) -> dict:
    return {"codec_type": "video", "pts_time": f"{time:.6f}", "flags": "K__" if keyframe else "___"}


def test_source_from_probe():
    info = {"streams": [
        {"codec_type": "audio", "codec_name": "aac", "sample_rate": "48000"},
        {"codec_type": "video", "codec_name": "h264", "width": 1280, "height": 720,
         "avg_frame_rate": "0/0", "r_frame_rate": "30000/1001"},
    ]}
    assert source_from_probe(info) == Source(1280, 720, 30000 / 1001, True, "h264", "aac")
    silent = {"streams": [{"codec_type": "video", "codec_name": "h264", "width": 640, "height": 360,
                           "avg_frame_rate": "25/1"}]}
    assert source_from_probe(silent) == Source(640, 360, 25.0, False, "h264", None)
    assert source_from_probe({"streams": [{"codec_type": "audio"}]}) is None
    assert source_from_probe({}) is None


def test_source_from_probe_reads_codecs_keyframes_and_the_publishers_bitrate():
    info = {
        "streams": [{"codec_type": "video", "codec_name": "hevc", "width": 1920, "height": 1080,
                     "avg_frame_rate": "60/1"},
                    {"codec_type": "audio", "codec_name": "mp3"}],
        "packets": [video_packet(0.0, True), video_packet(0.5, False), {"codec_type": "audio", "flags": "K__",
                                                                        "pts_time": "0.7"},
                    video_packet(2.0, True), video_packet(6.0, True)],
        "format": {"tags": {"videodatarate": "6000.0", "audiodatarate": "160"}},
    }
    source = source_from_probe(info)
    assert (source.video_codec, source.audio_codec) == ("hevc", "mp3")
    assert source.fps == 60.0 and source.keyframe_interval == 4.0 and source.kbps == 6160
    # No codec name, no keyframes seen, no FLV metadata: nothing is made up.
    bare = source_from_probe({"streams": [{"codec_type": "video", "width": 640, "height": 360}],
                              "format": {"tags": {"videodatarate": "n/a"}}})
    assert bare == Source(640, 360, 30.0, False, "unknown", None, None, None)


def test_source_from_probe_says_whether_the_video_carries_captions():
    video = {"codec_type": "video", "codec_name": "h264", "width": 640, "height": 360, "avg_frame_rate": "30/1"}
    assert source_from_probe({"streams": [{**video, "closed_captions": 1}]}).closed_captions
    assert not source_from_probe({"streams": [{**video, "closed_captions": 0}]}).closed_captions
    assert not source_from_probe({"streams": [video]}).closed_captions


def test_keyframe_interval_is_the_longest_gap_between_video_keyframes():
    assert keyframe_interval([video_packet(t, True) for t in (3.0, 1.0, 2.0, 5.5)]) == 2.5  # out of order too
    assert keyframe_interval([video_packet(0.0, True), video_packet(1.0, False)]) is None
    assert keyframe_interval([video_packet(0.0, True), {"codec_type": "video", "flags": "K_"},
                              {"codec_type": "video", "flags": "K_", "pts_time": "N/A"}]) is None
    assert keyframe_interval([]) is None


def test_parse_speed():
    assert parse_speed(" 1.02x") == 1.02 and parse_speed("0.5") == 0.5
    assert parse_speed("N/A") is None and parse_speed(None) is None


def test_probe_args_are_ffmpeg_pythons_probe_command():
    """ffmpeg.probe's shape (streams and container as JSON), options in name order, target last."""
    assert probe_args("/w/video.mp4", v="error") == [
        "ffprobe", "-show_format", "-show_streams", "-of", "json", "-v", "error", "/w/video.mp4"]
    assert probe_args("pipe:0", ffprobe="/usr/bin/ffprobe", v="error", f="flv", show_entries=PACKET_ENTRIES) == [
        "/usr/bin/ffprobe", "-show_format", "-show_streams", "-of", "json", "-f", "flv",
        "-show_entries", "packet=codec_type,pts_time,flags", "-v", "error", "pipe:0"]


def test_probe_times_out(tmp_path):
    """ffmpeg.probe (0.2.0) would wait for ever on an ffprobe that hangs; ours kills it."""
    hangs = tmp_path / "ffprobe"
    hangs.write_text("#!/bin/sh\nexec sleep 30\n")
    hangs.chmod(0o755)
    with pytest.raises(subprocess.TimeoutExpired):
        probe("/w/video.mp4", timeout=0.3, ffprobe=str(hangs))


@pytest.mark.media
def test_probe_reads_stdin_and_raises_ffmpegs_error_with_stderr(tmp_path):
    clip = tmp_path / "clip.flv"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-g", "10", "-f", "flv",
                    str(clip)], check=True, timeout=60)
    info = probe("pipe:0", timeout=20, stdin=clip.read_bytes(), f="flv", v="error", show_entries=PACKET_ENTRIES)
    source = source_from_probe(info)
    assert source is not None and (source.width, source.height, source.video_codec) == (320, 240, "h264")
    assert source.keyframe_interval == pytest.approx(0.4, abs=0.01)
    with pytest.raises(ffmpeg.Error) as failed:
        probe(str(tmp_path / "missing.mp4"), timeout=20, v="error")
    assert b"No such file or directory" in failed.value.stderr
