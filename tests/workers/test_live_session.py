"""A live session's decisions that need no ffmpeg: when the encode is too slow, and how long a
passthrough playlist's segments may be."""
from __future__ import annotations

import pytest

from app.media.ladder import Source
from workers.live.session import HeadroomWatch, passthrough_target


def test_headroom_waits_for_warmup_and_a_sustained_window():
    watch = HeadroomWatch(started=0, warmup=10, window=12, min_speed=0.95)
    for t in range(0, 10):
        watch.add(t, 0.3)  # warm-up: ignored
    assert not watch.too_slow(10)
    for t in range(10, 21):
        watch.add(t, 0.8)
        assert not watch.too_slow(t)  # not long enough yet
    for t in range(21, 24):
        watch.add(t, 0.8)
    assert watch.too_slow(23) and watch.mean() == pytest.approx(0.8)


def test_headroom_judges_a_short_window_of_evenly_spaced_samples():
    # ffmpeg reports once a second: a 3 s window holds samples 1 s apart, never a full 3 s span.
    watch = HeadroomWatch(started=0, warmup=1, window=3, min_speed=0.95)
    decided = [t for t in range(1, 12) if (watch.add(t, 0.5) or watch.too_slow(t))]
    assert decided and decided[0] <= 5


def test_headroom_ignores_a_short_dip_and_a_recovery():
    watch = HeadroomWatch(started=0, warmup=0, window=12, min_speed=0.95)
    for t in range(0, 30):
        watch.add(t, 0.5 if 10 <= t < 14 else 1.0)
        assert not watch.too_slow(t)
    recovering = HeadroomWatch(started=0, warmup=0, window=12, min_speed=0.95)
    for t in range(0, 30):
        recovering.add(t, 0.5 if t < 29 else 1.0)
    assert not recovering.too_slow(29)  # the latest sample keeps up again
    assert HeadroomWatch(started=0).mean() is None


@pytest.mark.parametrize(("interval", "target"), [
    (1.0, 1), (2.0, 2), (2.004, 2), (2.5, 3), (0.4, 1),
    (None, 4),  # the probe saw one keyframe or none: the longest a passthrough segment may be
    (9.0, 4),   # too far apart for passthrough; the runner switches to a ladder
])
def test_a_passthrough_playlists_target_duration_follows_the_publishers_keyframes(interval, target):
    assert passthrough_target(Source(1280, 720, 30, keyframe_interval=interval)) == target


def test_observe_counts_each_progress_block_once():
    watch = HeadroomWatch(started=0, warmup=0, window=2, min_speed=0.95)
    slow = {"rate": "0.5"}
    assert [watch.observe(now, slow) for now in (1, 2, 3)] == [False, False, False]  # one block: one sample
    assert len(watch.samples) == 1
    verdicts = [watch.observe(now, {"rate": "0.5"}) for now in (2, 3, 4)]
    assert verdicts[-1] is True and not watch.observe(5, {"rate": "n/a"})
