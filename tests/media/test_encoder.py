"""The runtime encoder probe: NVENC only when a one-frame trial encode works."""
from __future__ import annotations

import shutil

import pytest

from app.media import encoder


def test_choose_encoder():
    assert encoder.choose_encoder(True).name == "h264_nvenc"
    assert encoder.choose_encoder(False).name == "libx264"
    assert encoder.choose_encoder(True).is_gpu and not encoder.choose_encoder(False).is_gpu


def test_missing_ffmpeg_means_libx264():
    assert encoder.nvenc_works("/nonexistent/ffmpeg") is False


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_real_probe_falls_back_to_libx264_without_a_working_nvenc():
    # This machine has NVENC compiled in but no driver/GPU: the trial encode fails for real.
    if encoder.nvenc_works():
        pytest.skip("this machine has a working NVENC")
    encoder.detect_encoder.cache_clear()
    assert encoder.detect_encoder().name == "libx264"
    assert encoder.detect_encoder() is encoder.detect_encoder()  # probed once per process
