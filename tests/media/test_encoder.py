"""The runtime encoder probe: a GPU encoder only when a one-frame trial encode works."""
from __future__ import annotations

import shutil

import pytest

from app.media import encoder
from app.media.encoder import NVENC, QSV, VAAPI, X264, Encoder


def test_candidates_are_nvenc_then_quick_sync_and_vaapi_per_render_node():
    assert encoder.candidates([]) == [Encoder(NVENC)]
    assert encoder.candidates(["/dev/dri/renderD128", "/dev/dri/renderD129"]) == [
        Encoder(NVENC), Encoder(QSV, "/dev/dri/renderD128"), Encoder(VAAPI, "/dev/dri/renderD128"),
        Encoder(QSV, "/dev/dri/renderD129"), Encoder(VAAPI, "/dev/dri/renderD129")]
    assert all(candidate.is_gpu for candidate in encoder.candidates(["/dev/dri/renderD128"]))
    assert not Encoder(X264).is_gpu


def test_the_first_encoder_whose_trial_works_is_chosen(monkeypatch):
    # No GPU here: which trial "works" is decided by the test; the order is the module's.
    tried = []

    def works(candidate, ffmpeg="ffmpeg"):
        tried.append(candidate.name)
        return candidate.name == VAAPI

    monkeypatch.setattr(encoder, "works", works)
    chosen = encoder.first_working(encoder.candidates(["/dev/dri/renderD128"]))
    assert chosen == Encoder(VAAPI, "/dev/dri/renderD128") and tried == [NVENC, QSV, VAAPI]
    monkeypatch.setattr(encoder, "works", lambda candidate, ffmpeg="ffmpeg": False)
    assert encoder.first_working(encoder.candidates(["/dev/dri/renderD128"])) == Encoder(X264)


def test_trial_commands_encode_one_frame_as_the_ladder_would():
    assert encoder.trial_args(Encoder(NVENC))[-7:] == ["-frames:v", "1", "-c:v", NVENC, "-f", "null", "-"]
    vaapi = encoder.trial_args(Encoder(VAAPI, "/dev/dri/renderD128"))
    assert vaapi[vaapi.index("-init_hw_device") + 1] == "vaapi=gpu:/dev/dri/renderD128"
    assert vaapi[vaapi.index("-vf") + 1] == "format=nv12,hwupload" and "h264_vaapi" in vaapi
    qsv = encoder.trial_args(Encoder(QSV, "/dev/dri/renderD128"))
    assert "qsv=gpu@va" in qsv and qsv[qsv.index("-vf") + 1].startswith("format=nv12,hwupload=")


def test_missing_ffmpeg_means_no_gpu_encoder():
    assert encoder.works(Encoder(NVENC), "/nonexistent/ffmpeg") is False
    assert encoder.works(Encoder(VAAPI, "/dev/dri/renderD128"), "/nonexistent/ffmpeg") is False


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_real_trials_fail_over_to_libx264_without_a_gpu(tmp_path):
    # This machine's ffmpeg has NVENC, Quick Sync and VAAPI compiled in, but no GPU or driver:
    # each trial encode really runs and really fails.
    if encoder.works(Encoder(NVENC)):
        pytest.skip("this machine has a working NVENC")
    assert encoder.works(Encoder(VAAPI, str(tmp_path / "renderD128"))) is False
    assert encoder.works(Encoder(QSV, str(tmp_path / "renderD128"))) is False
    encoder.detect_encoder.cache_clear()
    assert encoder.detect_encoder().name == X264
    assert encoder.detect_encoder() is encoder.detect_encoder()  # probed once per process
