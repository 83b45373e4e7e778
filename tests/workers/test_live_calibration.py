"""The live host's CPU calibration runs the commands ffmpeg_args builds (without running ffmpeg here)."""
from __future__ import annotations

import subprocess

from app.media.ffmpeg_args import calibration_decode_args, calibration_sample_args, transcode_args
from app.media.ladder import PRESETS, Source, ladder_for
from workers.live import calibration


def test_measure_makes_a_sample_decodes_it_and_transcodes_it_with_each_preset(monkeypatch):
    ran = []

    def run(args, **options):
        ran.append(args)
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(calibration.subprocess, "run", run)
    model = calibration.measure("/usr/bin/ffmpeg")
    sample = ran[0][-1]
    assert sample.endswith("/sample.mp4")
    # The sample and the decode as the calibration wrote them out before ffmpeg_args built them.
    assert ran[0] == ["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                      "-i", "testsrc2=size=1280x720:rate=30", "-t", "2",
                      "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", sample]
    assert ran[0] == calibration_sample_args(sample, width=1280, height=720, fps=30, seconds=2,
                                             ffmpeg="/usr/bin/ffmpeg")
    assert ran[1] == ["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", sample,
                      "-f", "null", "-"]
    assert ran[1] == calibration_decode_args(sample, ffmpeg="/usr/bin/ffmpeg")
    rungs = ladder_for(Source(1280, 720, 30))
    out = sample.removesuffix("sample.mp4")
    assert ran[2:] == [transcode_args(sample, out + preset, rungs, preset=preset, has_audio=False, source_fps=30,
                                      record=False, progress=None, live_input=False, ffmpeg="/usr/bin/ffmpeg",
                                      loglevel="error") for preset in PRESETS]
    assert set(model.encode) == set(PRESETS) and model.measured
