"""What a live host learns from probing a stream: size, frame rate, codecs, keyframes, bitrate."""
from __future__ import annotations

from app.media.ladder import Source
from app.media.probe import keyframe_interval, parse_speed, source_from_probe


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
