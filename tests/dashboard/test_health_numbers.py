"""The dashboard's health numbers mean what they say: the publisher's frame rate and bitrate measured
on the live host's pull over the stream's own timeline (a 30 fps source reads 30 fps however the
frames arrive), drops and duplicates over the last seconds (none on a clean source), and every
rendition listed with its size, frame rate and bitrate."""
from __future__ import annotations

import subprocess

import pytest

from app.dashboard.services import parse_stats, viewer_rungs
from app.models import StreamSession
from tests.e2e.conftest import require_tool
from workers.live.stats import FrameWindow, InputMeter, encoder_stats, flv_video_frame
from workers.relay import PullRelay, _flv_tags


def flv_tag(kind: int, ms: int, body: bytes) -> bytes:
    """One FLV tag: header (kind, size, timestamp with its extended byte, stream id), body, trailer."""
    header = bytes([kind]) + len(body).to_bytes(3, "big") + (ms & 0xFFFFFF).to_bytes(3, "big")
    header += bytes([ms >> 24 & 0xFF]) + b"\0\0\0"
    return header + body + (11 + len(body)).to_bytes(4, "big")


def video(ms: int, size: int = 4000, keyframe: bool = False) -> bytes:
    return flv_tag(9, ms, bytes([(1 if keyframe else 2) << 4 | 7, 1, 0, 0, 0]) + bytes(size - 5))


def audio(ms: int, size: int = 200) -> bytes:
    return flv_tag(8, ms, bytes([0xAF, 1]) + bytes(size - 2))


def publisher(fps: float, seconds: float, start_ms: int = 0, frame_bytes: int = 4000):
    """Tags as an FLV publisher sends them: whole-millisecond times, a keyframe a second, AAC audio."""
    tags = [flv_tag(9, start_ms, bytes([0x17, 0, 0, 0, 0, 1, 2, 3]))]  # the AVC sequence header
    frames = round(fps * seconds)
    for n in range(frames):
        tags.append(video(start_ms + round(n * 1000 / fps), frame_bytes, keyframe=n % round(fps) == 0))
        if n % 2 == 0:
            tags.append(audio(start_ms + round(n * 1000 / fps)))
    return tags


@pytest.mark.parametrize("fps", [30, 29.97, 60, 25])
def test_the_input_frame_rate_is_the_publishers_however_the_tags_arrive(fps):
    meter = InputMeter()
    # All at once, as the relay hands a new encoder the GOP it kept: the old figure (ffmpeg's
    # frames per wall second) read 48 for a 30 fps source here. Stream time cannot be fooled.
    for tag in publisher(fps, 8):
        meter.tag(tag)
    figures = meter.figures()
    assert figures["fps"] == pytest.approx(fps, abs=0.05)
    # 4,000-byte frames and 200-byte audio every other frame, over the window.
    assert figures["video_kbps"] == pytest.approx(fps * 4000 * 8 / 1000, rel=0.02)
    assert figures["kbps"] == pytest.approx(fps * (4000 + 100) * 8 / 1000, rel=0.02)


def test_the_input_figures_cover_the_last_seconds_and_a_jump_starts_them_again():
    meter = InputMeter()
    assert meter.figures() == {"fps": None, "kbps": None, "video_kbps": None}
    for tag in publisher(60, 10) + publisher(30, 6, start_ms=10_000):
        meter.tag(tag)
    assert meter.figures()["fps"] == pytest.approx(30, abs=0.05)  # OBS switched to 30 fps
    for tag in publisher(30, 0.5, start_ms=900_000):  # a splice far ahead: nothing before it counts
        meter.tag(tag)
    assert meter.figures()["fps"] is None  # under a second of stream time: not enough to say


def test_only_coded_frames_count_as_frames():
    assert flv_video_frame(video(0)) and flv_video_frame(video(0, keyframe=True))
    assert not flv_video_frame(flv_tag(9, 0, bytes([0x17, 0, 0, 0, 0])))  # sequence header
    assert not flv_video_frame(flv_tag(9, 0, bytes([0x17, 2, 0, 0, 0])))  # end of sequence
    assert not flv_video_frame(flv_tag(9, 0, bytes([0x57, 0])))  # video info/command frame
    assert not flv_video_frame(audio(0)) and not flv_video_frame(b"\x09\x00")


@pytest.fixture(scope="module")
def flv_30fps(tmp_path_factory):
    """A real 30 fps H.264/AAC FLV from ffmpeg, as OBS would send it (1 Mb/s video)."""
    path = tmp_path_factory.mktemp("input") / "30fps.flv"
    subprocess.run([require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
                    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", "8", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "30", "-b:v", "1000k", "-maxrate", "1000k", "-bufsize", "500k",
                    "-c:a", "aac", "-b:a", "96k", str(path)], check=True, timeout=120)
    return path


@pytest.mark.media
def test_a_real_30_fps_stream_through_the_relay_reads_30_fps(flv_30fps, tmp_path):
    """The live host's own pull (PullRelay) reading a 30 fps stream far faster than real time."""
    meter = InputMeter()
    relay = PullRelay(str(flv_30fps))
    relay.on_tag = meter.tag
    with open(tmp_path / "consumer.flv", "wb") as consumer:
        relay.feed(consumer)
        relay._pump.join(timeout=30)
    relay.stop()
    figures = meter.figures()
    assert figures["fps"] == pytest.approx(30, abs=0.1)
    assert 800 <= figures["video_kbps"] <= 1200 and figures["kbps"] > figures["video_kbps"]
    # And the file's own tags, read in one go, agree.
    data = flv_30fps.read_bytes()
    direct = InputMeter()
    for offset, _, _, size in _flv_tags(data):
        direct.tag(data[offset:offset + 11 + size + 4])
    assert direct.figures()["fps"] == pytest.approx(30, abs=0.1)


def test_a_clean_source_has_no_dropped_or_duplicated_frames():
    window = FrameWindow()
    assert window.recent(3) == {}
    for second in range(20):
        window.add(float(second), 30 * second, 0, 0)
    assert window.recent(3) == {"seconds": 10.0, "frames": 300, "dropped": 0.0, "duplicated": 0.0}


def test_drops_and_duplicates_are_counted_over_the_last_seconds_per_rendition():
    window = FrameWindow()
    for second in range(30):
        # A burst of trouble 5-8 s in, long over by the end; the counters never go down.
        trouble = min(max(second - 5, 0), 3) * 30
        window.add(float(second), 30 * second, trouble, 2 * trouble)
    assert window.recent(3)["dropped"] == 0 and window.recent(3)["duplicated"] == 0
    for second in range(30, 40):
        window.add(float(second), 30 * second, 90 + 9 * (second - 29), 180)
    recent = window.recent(3)
    assert recent["dropped"] == 30.0 and recent["duplicated"] == 0.0  # 90 over three renditions
    window.add(40.0, 12, 0, 0)  # a new ffmpeg run: its counters start again
    assert window.recent(3) == {}
    window.add(41.0, 42, 0, 0)
    assert window.recent(3)["frames"] == 30


def test_the_thumbnails_padding_is_not_a_duplicate():
    # ffmpeg pads the thumbnail output with copies every THUMBNAIL_SECONDS: 5 a pick at 1/5 fps.
    progress = {"frame": "1800", "out_time_us": "60000000", "dup_frames": "10", "drop_frames": "0"}
    stats = encoder_stats(session_id=1, name="st-0000000000000001", state="running", mode="ladder",
                          encoder="libx264", preset="veryfast", rungs=[], progress=progress,
                          source_fps=30.0, restarts=0, step=0, note="", ffmpeg_pid=None, host="h",
                          cpu=None, transcoding=True)
    assert stats["dup_frames"] == 0 and "fps" not in stats


def test_every_rung_is_listed_with_its_size_frame_rate_and_bitrate():
    raw = encoder_stats(
        session_id=1, name="st-0000000000000001", state="running", mode="ladder", encoder="libx264",
        preset="veryfast", progress={"fps": "48.07", "rate": "1.0"}, source_fps=30.0, source_size=(1280, 720),
        input_figures={"fps": 30.0, "kbps": 2300, "video_kbps": 2200},
        rungs=[{"name": "720p", "width": 1280, "height": 720, "fps": 30, "target_kbps": 3000, "kbps": 2950},
               {"name": "480p", "width": 854, "height": 480, "fps": 30, "target_kbps": 1400, "kbps": 1390},
               {"name": "360p", "width": 640, "height": 360, "fps": 30, "target_kbps": 800, "kbps": None}],
        restarts=0, step=0, note="", ffmpeg_pid=None, host="h", cpu=None, transcoding=True)
    stats = parse_stats(raw)
    assert (stats.input.fps, stats.input.kbps, stats.input.resolution) == (30.0, 2300, "1280×720")
    assert stats.input.frame_rate == "30 fps"
    assert [(r.name, r.resolution, r.frame_rate, r.target_kbps, r.kbps) for r in stats.rungs] == [
        ("720p", "1280×720", "30 fps", 3000, 2950), ("480p", "854×480", "30 fps", 1400, 1390),
        ("360p", "640×360", "30 fps", 800, None)]
    assert not stats.dropping and not stats.duplicating


def test_a_passthrough_rung_has_the_measured_input_frame_rate():
    session = StreamSession(renditions=[{"name": "source", "width": 1920, "height": 1080, "fps": 59.94,
                                         "passthrough": True}])
    stats = parse_stats({"input": {"fps": 30.0}, "ladder": [{"name": "source", "kbps": 6000}]})
    [rung] = viewer_rungs(session, stats)
    assert (rung.resolution, rung.frame_rate, rung.passthrough) == ("1920×1080", "30 fps", True)


def test_the_encoders_speed_is_taken_over_the_window_not_the_last_second():
    window = FrameWindow()
    media = 0.0
    for second in range(12):
        # A busy box: a second where little came out, then one that caught up; real time overall.
        media += {5: 0.4, 6: 1.6}.get(second, 1.0)
        window.add(float(second), 30 * second, 0, 0, media)
    assert window.recent(2)["speed"] == pytest.approx(1.0)
