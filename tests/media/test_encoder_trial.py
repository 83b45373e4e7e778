"""The runtime encoder probe: a GPU encoder only when a one-frame trial encode works."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from app.media import encoder_trial
from app.media.encoder import NVENC, QSV, VAAPI, X264, Encoder
from app.media.ffmpeg_args import encoder_trial_args


def test_candidates_are_nvenc_then_quick_sync_and_vaapi_per_render_node():
    assert encoder_trial.candidates([]) == [Encoder(NVENC)]
    assert encoder_trial.candidates(["/dev/dri/renderD128", "/dev/dri/renderD129"]) == [
        Encoder(NVENC), Encoder(QSV, "/dev/dri/renderD128"), Encoder(VAAPI, "/dev/dri/renderD128"),
        Encoder(QSV, "/dev/dri/renderD129"), Encoder(VAAPI, "/dev/dri/renderD129")]
    assert all(candidate.is_gpu for candidate in encoder_trial.candidates(["/dev/dri/renderD128"]))
    assert not Encoder(X264).is_gpu


def test_the_first_encoder_whose_trial_works_is_chosen(monkeypatch):
    # No GPU here: which trial "works" is decided by the test; the order is the module's.
    tried = []

    def works(candidate, ffmpeg="ffmpeg"):
        tried.append(candidate.name)
        return candidate.name == VAAPI

    monkeypatch.setattr(encoder_trial, "works", works)
    chosen = encoder_trial.first_working(encoder_trial.candidates(["/dev/dri/renderD128"]))
    assert chosen == Encoder(VAAPI, "/dev/dri/renderD128") and tried == [NVENC, QSV, VAAPI]
    monkeypatch.setattr(encoder_trial, "works", lambda candidate, ffmpeg="ffmpeg": False)
    assert encoder_trial.first_working(encoder_trial.candidates(["/dev/dri/renderD128"])) == Encoder(X264)


def test_a_trial_runs_the_command_ffmpeg_args_builds_without_a_shell_or_stdin(monkeypatch):
    ran = []

    def run(args, **options):
        ran.append((args, options))
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(encoder_trial.subprocess, "run", run)
    vaapi = Encoder(VAAPI, "/dev/dri/renderD128")
    assert encoder_trial.works(vaapi, "/opt/ffmpeg/bin/ffmpeg", timeout=5) is True
    [(args, options)] = ran
    assert args == encoder_trial_args(vaapi, ffmpeg="/opt/ffmpeg/bin/ffmpeg")
    assert options == {"capture_output": True, "timeout": 5, "stdin": subprocess.DEVNULL}


def test_missing_ffmpeg_means_no_gpu_encoder():
    assert encoder_trial.works(Encoder(NVENC), "/nonexistent/ffmpeg") is False
    assert encoder_trial.works(Encoder(VAAPI, "/dev/dri/renderD128"), "/nonexistent/ffmpeg") is False


@pytest.mark.media
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_real_trials_fail_over_to_libx264_without_a_gpu(tmp_path):
    # This machine's ffmpeg has NVENC, Quick Sync and VAAPI compiled in, but no GPU or driver:
    # each trial encode really runs and really fails.
    if encoder_trial.works(Encoder(NVENC)):
        pytest.skip("this machine has a working NVENC")
    assert encoder_trial.works(Encoder(VAAPI, str(tmp_path / "renderD128"))) is False
    assert encoder_trial.works(Encoder(QSV, str(tmp_path / "renderD128"))) is False
    encoder_trial.detect_encoder.cache_clear()
    assert encoder_trial.detect_encoder().name == X264
    assert encoder_trial.detect_encoder() is encoder_trial.detect_encoder()  # probed once per process
