"""ladder_for and the headroom fallbacks (pure)."""
from __future__ import annotations

import pytest

from app.media.ladder import AUDIO_KBPS, PRESETS, Source, ladder_for, lighter, passthrough_rung


def names(rungs):
    return [r.name for r in rungs]


def test_1080p_source_gets_the_whole_ladder():
    rungs = ladder_for(Source(1920, 1080, 30))
    assert names(rungs) == ["1080p", "720p", "480p", "360p"]
    assert [(r.width, r.height, r.video_kbps) for r in rungs] == [
        (1920, 1080, 6000), (1280, 720, 3500), (854, 480, 2000), (640, 360, 1200)]
    for rung in rungs:
        assert rung.maxrate_kbps > rung.video_kbps and rung.bufsize_kbps == 2 * rung.video_kbps


def test_never_upscales_past_the_source():
    assert names(ladder_for(Source(1280, 720, 30))) == ["720p", "480p", "360p"]
    assert names(ladder_for(Source(854, 480, 30))) == ["480p", "360p"]


def test_tiny_source_gets_one_rung_at_its_own_size():
    (rung,) = ladder_for(Source(320, 240, 25))
    assert (rung.name, rung.width, rung.height, rung.fps) == ("240p", 320, 240, 25)
    assert 200 <= rung.video_kbps < 1200


@pytest.mark.parametrize("source,expected", [
    (Source(1920, 1080, 60), [60, 60, 30, 30]),
    (Source(1920, 1080, 120), [60, 60, 30, 30]),
    (Source(1920, 1080, 24), [24, 24, 24, 24]),
    (Source(1920, 1080, 30000 / 1001), [29.97, 29.97, 29.97, 29.97]),
])
def test_frame_rate_is_capped_at_the_source_and_60(source, expected):
    assert [r.fps for r in ladder_for(source)] == expected


def test_widths_are_even_and_keep_the_aspect_ratio():
    rungs = ladder_for(Source(1440, 1080, 30))  # 4:3
    assert [(r.width, r.height) for r in rungs] == [(1440, 1080), (960, 720), (640, 480), (480, 360)]
    odd = ladder_for(Source(1366, 768, 30))
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in odd)


def test_lighter_goes_faster_preset_then_drops_the_top_rung():
    ladder = ladder_for(Source(1920, 1080, 30))
    plans = []
    step = 0
    while (plan := lighter(ladder, step)) is not None:
        plans.append(plan)
        step += 1
    assert (names(plans[0].rungs), plans[0].preset, plans[0].note) == (names(ladder), "veryfast", "")
    assert (names(plans[1].rungs), plans[1].preset) == (names(ladder), "superfast")
    assert (names(plans[2].rungs), plans[2].preset) == (["720p", "480p", "360p"], "superfast")
    assert (names(plans[3].rungs), plans[3].preset) == (["720p", "480p", "360p"], "ultrafast")
    assert names(plans[-1].rungs) == ["360p"] and plans[-1].preset == PRESETS[-1]
    assert all(p.note for p in plans[1:])
    assert "1080p" in plans[2].note


def test_lighter_skips_steps_that_change_nothing():
    (rung,) = ladder = ladder_for(Source(640, 360, 30))
    plans = [lighter(ladder, s) for s in range(6)]
    real = [p for p in plans if p is not None]
    assert [p.preset for p in real] == ["veryfast", "superfast", "ultrafast"]
    assert lighter(ladder, -1) is None


def test_passthrough_rung_is_the_source_at_the_bitrate_it_declared():
    rung = passthrough_rung(Source(1920, 1080, 30, kbps=4500))
    assert (rung.name, rung.width, rung.height, rung.fps) == ("1080p", 1920, 1080, 30)
    assert (rung.video_kbps, rung.maxrate_kbps, rung.bufsize_kbps, rung.audio_kbps) == (4500, 6750, 9000, AUDIO_KBPS)
    assert rung.bandwidth == (6750 + AUDIO_KBPS) * 1000


@pytest.mark.parametrize("height, kbps", [(1080, 9000), (720, 5250), (480, 3000), (360, 1800), (240, 1800),
                                          (1440, 9000)])
def test_without_a_declared_bitrate_passthrough_guesses_generously_from_the_nearest_rung(height, kbps):
    assert passthrough_rung(Source(height * 16 // 9, height, 30)).video_kbps == kbps


def test_passthrough_rung_is_named_like_the_ladder_rung_that_continues_its_playlist():
    for source in (Source(1920, 1080, 60), Source(1280, 720, 30), Source(854, 480, 30)):
        assert passthrough_rung(source).name == ladder_for(source)[0].name
    assert passthrough_rung(Source(1000, 563, 30)).name == "564p"  # odd heights are named even


def test_passthrough_rung_keeps_the_source_rate_and_carries_no_audio_when_there_is_none():
    assert passthrough_rung(Source(1280, 720, 30000 / 1001)).fps == 29.97
    assert passthrough_rung(Source(1280, 720, 0)).fps == 30  # a probe that found no rate
    silent = passthrough_rung(Source(1280, 720, 30, has_audio=False, kbps=2000))
    assert silent.audio_kbps == 0 and silent.bandwidth == 3000 * 1000
