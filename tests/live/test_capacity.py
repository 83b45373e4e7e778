"""Admission by capacity (pure): what rendition sets cost, and which one a session gets for what is free."""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.live.capacity import (
    MODE_LADDER,
    MODE_PASSTHROUGH,
    MODE_REDUCED,
    Capacity,
    CostModel,
    choose,
    ladder_cost,
    passthrough_cost,
    passthrough_problem,
)
from app.media.ladder import Source, ladder_for, lighter, passthrough_rung

MODEL = CostModel()
HD = Source(1280, 720, 30)
HEVC = Source(1280, 720, 30, video_codec="hevc")
SPARSE_KEYFRAMES = Source(1280, 720, 30, keyframe_interval=8.0)
# ladder_cost of HD with the default model, by lighter() step (worked out below for step 0).
HD_COSTS = {0: 0.4698, 1: 0.3292, 2: 0.1671, 3: 0.1191, 4: 0.0722}


def names(assignment):
    return assignment.rung_names


def test_a_ladder_costs_one_decode_every_rungs_encode_and_an_aac_encode_per_rung():
    full = lighter(ladder_for(HD), 0)
    decode = 0.0015 * 1280 * 720 * 30 / 1e6
    encode = 0.0085 * (1280 * 720 + 854 * 480 + 640 * 360) * 30 / 1e6
    assert ladder_cost(HD, full, MODEL) == round(decode + encode + 3 * 0.01, 4) == HD_COSTS[0]
    silent = Source(1280, 720, 30, has_audio=False)
    assert ladder_cost(silent, full, MODEL) == round(HD_COSTS[0] - 0.03, 4)
    for step, cost in HD_COSTS.items():
        assert ladder_cost(HD, lighter(ladder_for(HD), step), MODEL) == cost


def test_a_faster_preset_costs_less_and_an_unknown_one_is_priced_as_the_dearest():
    full = lighter(ladder_for(HD), 0)
    assert ladder_cost(HD, lighter(ladder_for(HD), 1), MODEL) < ladder_cost(HD, full, MODEL)
    odd = type(full)(rungs=full.rungs, preset="placebo", step=0)
    assert ladder_cost(HD, odd, MODEL) == ladder_cost(HD, full, MODEL)


def test_on_a_gpu_the_cpu_only_feeds_the_encoder():
    full = lighter(ladder_for(HD), 0)
    assert ladder_cost(HD, full, MODEL, gpu=True) == pytest.approx(0.05 + 3 * 0.01)
    # Quick Sync and VAAPI take pictures the CPU decoded: the decode is the CPU's.
    decode = MODEL.decode * 1280 * 720 * 30 / 1e6
    assert ladder_cost(HD, full, MODEL, gpu=True, cpu_decode=True) == pytest.approx(0.05 + decode + 3 * 0.01)
    assert choose(HD, free_cores=0.05 + decode, model=MODEL, free_hw_sessions=3, gpu=True,
                  cpu_decode=True).mode != "ladder"  # the decode does not fit
    assert choose(HD, free_cores=1.0, model=MODEL, free_hw_sessions=3, gpu=True, cpu_decode=True).mode == "ladder"


@pytest.mark.parametrize("source, cost", [
    (HD, 0.02),
    (Source(1280, 720, 30, audio_codec="mp3"), 0.03),  # one AAC encode
    (Source(1280, 720, 30, has_audio=False, audio_codec=None), 0.02),
])
def test_passthrough_costs_almost_nothing_and_pays_only_for_non_aac_audio(source, cost):
    assert passthrough_cost(source) == pytest.approx(cost)


def test_cost_model_survives_its_json_form():
    model = CostModel(encode={"veryfast": 0.01, "ultrafast": 0.004}, decode=0.002, measured=True)
    assert CostModel.from_dict(model.as_dict()) == model
    assert CostModel.from_dict({"encode": {"veryfast": "0.01"}, "decode": "0.002"}).measured is False


@pytest.mark.parametrize("source", [HD, Source(1280, 720, 30, keyframe_interval=2.0),
                                    Source(1280, 720, 30, keyframe_interval=4.0)])
def test_passthrough_serves_h264_with_keyframes_at_most_four_seconds_apart(source):
    assert passthrough_problem(source) is None


def test_passthrough_problems_say_what_to_change_in_obs():
    codec = passthrough_problem(HEVC)
    assert "HEVC" in codec and "x264" in codec
    keyframes = passthrough_problem(SPARSE_KEYFRAMES)
    assert "8 s apart" in keyframes and "Keyframe Interval to 2 s" in keyframes
    assert passthrough_problem(Source(1280, 720, 30, keyframe_interval=4.01)) is not None


def test_a_host_spends_a_share_of_its_cores():
    assert Capacity.of_host(8) == Capacity(cores=6.8, hw_sessions=0)
    assert Capacity.of_host(4, hw_sessions=3, share=0.5) == Capacity(cores=2.0, hw_sessions=3)


def test_room_for_everything_gets_the_full_ladder():
    got = choose(HD, free_cores=4.0, model=MODEL)
    assert (got.mode, got.plan.step, got.plan.preset) == (MODE_LADDER, 0, "veryfast")
    assert names(got) == ["720p", "480p", "360p"] and got.cost == HD_COSTS[0]
    assert got.hw_sessions == 0 and got.reason == "Full quality ladder: 720p, 480p, 360p."


def test_just_enough_for_the_full_ladder_is_enough():
    assert choose(HD, free_cores=HD_COSTS[0], model=MODEL).plan.step == 0


def test_a_busy_host_keeps_every_rung_on_a_faster_preset():
    got = choose(HD, free_cores=0.4, model=MODEL)
    assert (got.mode, got.plan.preset, got.cost) == (MODE_LADDER, "superfast", HD_COSTS[1])
    assert names(got) == ["720p", "480p", "360p"]
    assert "faster 'superfast' preset" in got.reason and "720p, 480p, 360p" in got.reason


@pytest.mark.parametrize("free", [0.3, 0.1, 0.0])
def test_then_source_passthrough_rather_than_fewer_renditions(free):
    got = choose(HD, free_cores=free, model=MODEL)
    assert (got.mode, got.plan, got.rung_names) == (MODE_PASSTHROUGH, None, [])
    assert got.cost == passthrough_cost(HD)
    assert "exactly as you send it" in got.reason and "source quality" in got.reason


@pytest.mark.parametrize("source", [HEVC, SPARSE_KEYFRAMES])
def test_without_passthrough_lighter_ladders_come_next(source):
    got = choose(source, free_cores=0.2, model=MODEL)
    assert got.mode == MODE_REDUCED and names(got) == ["480p", "360p"]
    assert got.plan.preset == "superfast" and got.cost <= 0.2
    assert "smaller ladder: 480p, 360p" in got.reason


@pytest.mark.parametrize("source, why", [(HEVC, "HEVC"), (SPARSE_KEYFRAMES, "8 s apart")])
def test_without_passthrough_the_cheapest_ladder_is_taken_even_when_nothing_fits(source, why):
    got = choose(source, free_cores=0.0, model=MODEL)
    cheapest = [plan for step in range(6) if (plan := lighter(ladder_for(source), step))][-1]
    assert got.mode == MODE_REDUCED and got.plan == cheapest and names(got) == ["360p"]
    assert got.cost == ladder_cost(source, cheapest, MODEL) > 0.0
    assert why in got.reason and "360p only" in got.reason and "may stutter" in got.reason


def test_hardware_encoding_takes_the_full_ladder_when_sessions_are_free():
    got = choose(HD, free_cores=0.5, model=MODEL, free_hw_sessions=3, gpu=True)
    assert (got.mode, got.hw_sessions, names(got)) == (MODE_LADDER, 3, ["720p", "480p", "360p"])
    assert got.cost == pytest.approx(0.08) and got.reason == "Hardware encoding: 720p, 480p, 360p."


def test_busy_hardware_sessions_give_the_biggest_ladder_that_fits_them():
    got = choose(HD, free_cores=0.5, model=MODEL, free_hw_sessions=2, gpu=True)
    assert (got.mode, got.hw_sessions, names(got)) == (MODE_REDUCED, 2, ["480p", "360p"])
    assert got.reason.startswith("Hardware encoder sessions are busy")
    one = choose(HD, free_cores=0.5, model=MODEL, free_hw_sessions=1, gpu=True)
    assert (one.hw_sessions, names(one)) == (1, ["360p"])


def test_without_free_hardware_sessions_the_cpu_rules_apply():
    got = choose(HD, free_cores=4.0, model=MODEL, free_hw_sessions=0, gpu=True)
    assert (got.mode, got.hw_sessions, got.cost) == (MODE_LADDER, 0, HD_COSTS[0])
    starved = choose(HD, free_cores=0.01, model=MODEL, free_hw_sessions=3, gpu=True)
    assert starved.mode == MODE_PASSTHROUGH and starved.hw_sessions == 0


def test_a_source_below_the_lowest_rung_is_still_admitted():
    tiny = Source(320, 240, 25)
    assert names(choose(tiny, free_cores=1.0, model=MODEL)) == ["240p"]
    assert choose(tiny, free_cores=0.0, model=MODEL).mode == MODE_PASSTHROUGH


# --- lower renditions for a passthrough once capacity frees ---------------------------------------

def test_a_passthrough_gains_the_lower_rungs_that_fit_beside_a_newcomers_full_ladder():
    from app.live.capacity import added_rungs

    source = Source(1280, 720, 30, keyframe_interval=2.0, video_codec="h264", audio_codec="aac")
    model = CostModel()
    reserve = ladder_cost(source, lighter(ladder_for(source), 0), model)
    both = added_rungs(source, free_cores=10.0, model=model)
    assert both.rung_names == ["480p", "360p"] and both.mode == MODE_PASSTHROUGH
    assert all(rung.fps == 30 for rung in both.plan.rungs) and "480p, 360p" in both.reason
    # Audio is copied: no AAC encode in their cost.
    assert both.cost == ladder_cost(replace(source, has_audio=False), both.plan, model)
    one = added_rungs(source, free_cores=reserve + both.cost - 0.001, model=model)
    assert one.rung_names == ["480p"] and one.cost < both.cost
    # What stays free must still take a newcomer's full ladder.
    assert added_rungs(source, free_cores=reserve + one.cost - 0.001, model=model) is None
    assert added_rungs(source, free_cores=reserve, model=model) is None


def test_the_added_rungs_run_at_the_sources_frame_rate_and_never_at_its_height():
    from app.live.capacity import added_rungs

    sixty = Source(1920, 1080, 59.94, keyframe_interval=2.0, video_codec="h264", audio_codec="aac")
    granted = added_rungs(sixty, free_cores=100.0, model=CostModel())
    assert granted.rung_names == ["720p", "480p", "360p"]
    assert {rung.fps for rung in granted.plan.rungs} == {passthrough_rung(sixty).fps}
    # A source at the lowest rung has nothing lower to gain.
    assert added_rungs(Source(640, 360, 30, video_codec="h264"), free_cores=100.0, model=CostModel()) is None
