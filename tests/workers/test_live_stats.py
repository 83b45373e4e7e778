"""A live session's figures for the creator's dashboard: measured bitrates and honest duplicates."""
from __future__ import annotations

from workers.live.stats import encoder_stats, rung_kbps, thumbnail_padding


def test_rung_kbps_from_the_newest_segments(tmp_path):
    (tmp_path / "index.m3u8").write_text("#EXTM3U\n#EXTINF:2.000000,\nseg_1.m4s\n#EXTINF:2.000000,\nseg_2.m4s\n")
    (tmp_path / "seg_1.m4s").write_bytes(b"x" * 250_000)
    (tmp_path / "seg_2.m4s").write_bytes(b"x" * 250_000)
    assert rung_kbps(tmp_path) == 1000
    assert rung_kbps(tmp_path / "missing") is None


def test_rung_kbps_skips_segments_already_gone(tmp_path):
    (tmp_path / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1.0,\ns1.m4s\n#EXTINF:1.0,\ns2.m4s\n")
    (tmp_path / "s2.m4s").write_bytes(b"x" * 62_500)
    assert rung_kbps(tmp_path) == 500
    (tmp_path / "s2.m4s").unlink()
    assert rung_kbps(tmp_path) is None


def test_thumbnail_padding_is_not_reported_as_the_streams_duplicates():
    assert thumbnail_padding({"out_time_us": "29000000"}) == 0
    assert thumbnail_padding({"out_time_us": "61000000"}) == 2 * 5  # 30 s at 1/5 fps, less the pick
    assert thumbnail_padding({"out_time_us": "N/A"}) == 0


def stats(progress: dict, *, transcoding: bool) -> dict:
    return encoder_stats(session_id=1, name="st-0123456789abcdef", state="running",
                         mode="ladder" if transcoding else "passthrough", encoder="libx264",
                         preset="veryfast" if transcoding else None, rungs=[], progress=progress,
                         source_fps=30, restarts=0, step=0, note="", ffmpeg_pid=42, host="box",
                         cpu=0.5, transcoding=transcoding)


def test_encoder_stats_leave_out_the_thumbnail_duplicates_and_name_the_copy():
    progress = {"out_time_us": "61000000", "dup_frames": "12", "drop_frames": "3", "frame": "1830",
                "fps": "30.0", "speed": "1.01x", "rate": "0.980"}
    ladder = stats(progress, transcoding=True)
    assert ladder["dup_frames"] == 2 and ladder["drop_frames"] == 3 and ladder["frame"] == 1830
    assert ladder["speed"] == 0.98 and ladder["speed_avg"] == 1.01 and ladder["encoder"] == "libx264"
    copy = stats(progress, transcoding=False)  # passthrough writes no thumbnail output
    assert copy["dup_frames"] == 12 and "passthrough" in copy["encoder"] and copy["speed"] is None
    assert stats({}, transcoding=True)["speed"] is None and stats({}, transcoding=True)["frame"] is None
