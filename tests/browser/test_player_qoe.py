"""The players' heartbeats say what the viewer got (startup, playing and rebuffering time, renditions,
latency, frames, the positions played) as deltas, and hls.js sends CMCD under the same session id:
a live ladder and a recording in Chromium, the beats as the server receives them."""
import functools
import json
import shutil
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import request

from app.channels import services as channels
from app.extensions import db
from app.models import VOD, Channel
from app.streams import services as streams
from tests.browser.test_player import (  # noqa: F401 - fixtures (and helpers) from there
    media_root,
    open_context,
    player_server,
    start_ladder,
    until_true,
)
from tests.browser.test_vods import SECONDS, build_recording
from tests.conftest import wait_for
from tests.factories import make_user
from tests.vods.factory import ended_session

pytestmark = pytest.mark.browser

# The harness's own measure, beside the player's: playing time is every 50 ms step in which the
# playhead moved at about the playback rate (not a seek), stuck time every step after that in which
# it did not (the live test makes no seeks: hls.js's own, out of a stall, are stuck time too);
# startup is the first `play` to the first moving step. Media events do not bubble, but a
# capturing listener on the document sees them all.
SAMPLER = """
window.__harness = { playing: 0, stuck: 0, intent: null, moving: null };
document.addEventListener("play", () => {
  if (window.__harness.intent === null) window.__harness.intent = performance.now();
}, true);
let last = null;
setInterval(() => {
  const video = document.querySelector("video");
  if (!video) return;
  const now = performance.now(), pos = video.currentTime;
  if (last && !video.paused && !video.ended) {
    const step = pos - last.pos, most = (now - last.at) / 1000 * Math.max(1, video.playbackRate) * 1.5 + 0.05;
    if (step > 0.001 && step < most && !video.seeking) {
      window.__harness.playing += now - last.at;
      if (window.__harness.moving === null) window.__harness.moving = last.at;
    } else if (window.__harness.moving !== null) {
      window.__harness.stuck += now - last.at;
    }
  }
  last = { at: now, pos: pos };
}, 50);
"""
VIDEO = "document.querySelector('video')"


def record_beats(app, endpoint: str) -> list[dict]:
    """Every beat the app receives on `endpoint`, in order of arrival, with its answer's status
    (requests pass through to the real view)."""
    beats: list[dict] = []
    view = app.view_functions[endpoint]

    @functools.wraps(view)  # keeps the name that CSRF exemption and the rate limits look up
    def recorded(*args, **kwargs):
        beat = json.loads(request.get_data(as_text=True) or "{}")
        response = app.make_response(view(*args, **kwargs))
        beats.append({**beat, "_status": response.status_code, "_type": request.mimetype, "_at": time.monotonic()})
        return response

    app.view_functions[endpoint] = recorded
    return beats


def cmcd(url: str) -> dict:
    """The CMCD query parameter's keys (`sid="..."`, `br=1200`, `su`...)."""
    found = {}
    for item in parse_qs(urlsplit(url).query).get("CMCD", [""])[0].split(","):
        key, _, value = item.partition("=")
        found[key] = value.strip('"') if value else True
    return found


def harness(page) -> dict:
    return page.evaluate("window.__harness")


def by_seq(beats: list[dict]) -> list[dict]:
    """The beats in the order the page sent them, checked to be all there, each once."""
    ordered = sorted(beats, key=lambda beat: beat["seq"])
    assert [beat["seq"] for beat in ordered] == list(range(1, len(ordered) + 1)), ordered
    assert all(beat["_status"] < 400 for beat in ordered), ordered
    assert len({beat["viewer"] for beat in ordered}) == 1
    return ordered


def check_renditions(beats: list[dict], heights: set[str]) -> None:
    for beat in beats:
        if beat["play_ms"] > 20:
            assert set(beat["renditions"]) <= heights, beat
            assert sum(beat["renditions"].values()) == pytest.approx(beat["play_ms"], abs=3), beat
            assert 0 <= beat["upscale_ms"] <= beat["play_ms"] + 3, beat


def test_live_player_reports_qoe_in_its_beats(player_server, media_root, browser):  # noqa: F811 - pytest passes the imported fixtures
    base, app = player_server
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is missing: `make test` installs it")
    beats = record_beats(app, "api.watch")
    with app.app_context():
        user = make_user("qoestreamer")
        slug = user.channel.slug
        key = channels.rotate_stream_key(db.session.get(Channel, user.channel.id))
        session = streams.go_live(key, ingest="nginx", client_id="31")
        name, session_id = session.internal_name, session.id
    ffmpeg = start_ladder(media_root / "hls" / name)
    context = open_context(browser, base, "dark", 1280)
    try:
        wait_for(lambda: (media_root / "hls" / name / "master.m3u8").exists()
                 and (media_root / "hls" / name / "v2" / "seg2.m4s").exists(), 20, "the first segments")
        with app.app_context():
            assert streams.mark_playable(session_id, 0)
        page = context.new_page()
        page.add_init_script(SAMPLER)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        segments: list[str] = []
        page.on("request", lambda req: ".m4s" in req.url and segments.append(req.url))
        opened = time.monotonic()
        page.goto(f"{base}/c/{slug}")
        until_true(page, f"{VIDEO}.currentTime > 0.5", 20)
        seen_playing = time.monotonic() - opened

        # The first beat (at once, "starting") and the next one, a heartbeat after the first frame,
        # which says how long startup took.
        wait_for(lambda: any("startup_ms" in beat for beat in beats), 15, "a beat with startup_ms")
        measured = harness(page)
        startup = next(beat for beat in beats if "startup_ms" in beat)
        assert 0 < startup["startup_ms"] <= seen_playing * 1000
        assert startup["startup_ms"] == pytest.approx(measured["moving"] - measured["intent"], abs=500)
        assert startup["state"] == "playing" and startup["play_ms"] > 0
        assert startup["latency_ms"] > 0 and startup["target_ms"] > 0
        assert startup["bandwidth_kbps"] > 0 and startup["frames"] > 0

        # Slower than the lowest rendition (400 kbps video + 96 kbps sound) for 20 s: it rebuffers
        # once its few seconds of buffer are gone.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        throttled = len(beats)
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                      "downloadThroughput": 150_000 / 8, "uploadThroughput": -1})
        time.sleep(20)
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                      "downloadThroughput": -1, "uploadThroughput": -1})
        until_true(page, f"{VIDEO}.readyState >= 3 && !{VIDEO}.paused", 20)
        wait_for(lambda: sum(beat.get("rebuffers", 0) for beat in beats[throttled:]), 15, "a beat with rebuffers")
        # Paused for 12 s: "paused" at once, and no playing time until it plays again.
        count = len(beats)
        paused_at = time.monotonic()
        page.evaluate(f"{VIDEO}.pause()")
        # A 10 s heartbeat already on its way when the video paused may come first (CI once).
        (first_paused,) = wait_for(lambda: next(((i,) for i in range(count, len(beats))
                                                 if beats[i]["state"] == "paused"), None), 2, "the paused beat")
        assert first_paused - count <= 1 and all(beat["state"] == "playing" for beat in beats[count:first_paused])
        assert beats[first_paused]["_at"] - paused_at < 1
        time.sleep(12)
        during_pause = beats[first_paused + 1:]
        assert [beat["state"] for beat in during_pause] == ["paused"], during_pause  # the 10 s heartbeat
        assert during_pause[0]["play_ms"] == 0 and during_pause[0]["rebuffer_ms"] == 0
        count = len(beats)
        page.evaluate(f"{VIDEO}.play()")
        wait_for(lambda: len(beats) > count, 3, "the beat saying it plays again")
        assert beats[count]["state"] == "playing" and beats[count]["play_ms"] < 1000

        # Leave a few seconds after a beat, so the final beacon has playing time of its own to say.
        count = len(beats)
        wait_for(lambda: len(beats) > count, 12, "a heartbeat")
        time.sleep(3)
        measured = harness(page)
        page.goto("about:blank")
        wait_for(lambda: beats[-1]["state"] == "ended", 5, "the final beacon")
        time.sleep(0.5)
    finally:
        ffmpeg.kill()
        ffmpeg.wait(5)
        context.close()

    beats = by_seq(beats)
    after = beats[throttled:]
    assert sum(beat["rebuffers"] for beat in after) >= 1
    rebuffered = sum(beat["rebuffer_ms"] for beat in after)
    assert rebuffered > 3000 and rebuffered == pytest.approx(measured["stuck"], abs=1000), (rebuffered, measured)
    assert sum(beat["rebuffers"] for beat in beats[:throttled]) == 0, beats[:throttled]
    # The playing time the beats add up to is the time the harness saw the playhead move.
    played = sum(beat["play_ms"] for beat in beats)
    assert played == pytest.approx(measured["playing"], rel=0.05), (played, measured)
    check_renditions(beats, {"480", "360", "240"})
    assert [beat for beat in beats if "startup_ms" in beat] == [startup]
    assert not any("failed" in beat or "errors" in beat for beat in beats), beats
    for beat in beats:
        if beat["state"] == "playing":
            assert beat["latency_ms"] > 0 and beat["target_ms"] > 0, beat
    assert sum(beat["frames"] for beat in beats) > 0
    # The page left once: one beacon (as text/plain), with what it played since the last beat.
    final = beats[-1]
    assert [beat["state"] for beat in beats].count("ended") == 1
    assert final["_type"] == "text/plain" and final["play_ms"] > 2000, final
    # The first beat says nothing of a referrer (none) or an embed (the channel page).
    assert beats[0]["state"] == "starting" and "referrer" not in beats[0] and "embed" not in beats[0]
    # CMCD on every segment, under the beats' viewer id, naming the channel.
    assert segments
    for url in segments:
        assert cmcd(url)["sid"] == final["viewer"] and cmcd(url)["cid"] == slug, url
    assert errors == []


def test_embedded_live_player_says_where_it_is_embedded(player_server, media_root, browser):  # noqa: F811 - pytest passes the imported fixtures
    base, app = player_server
    beats = record_beats(app, "api.watch")
    with app.app_context():
        user = make_user("qoeembed")
        slug = user.channel.slug
        key = channels.rotate_stream_key(db.session.get(Channel, user.channel.id))
        session = streams.go_live(key, ingest="nginx", client_id="32")
        (media_root / "hls").mkdir(exist_ok=True)
        (media_root / "hls" / session.internal_name).mkdir()
        assert streams.mark_playable(session.id, 0)
    context = open_context(browser, base, "light", 390)
    try:
        page = context.new_page()
        page.goto(f"{base}/embed/{slug}", referer="https://blog.example.org/posts/1?utm=x")
        wait_for(lambda: beats, 5, "the first beat")
        # Its playlist is missing: a startup failure, said (once) by the beacon as the page goes.
        until_true(page, "document.querySelector('[data-player-message]').textContent.includes('Reconnecting')", 10)
        page.goto("about:blank")
        wait_for(lambda: beats[-1]["state"] == "ended", 5, "the final beacon")
    finally:
        context.close()
    beats = by_seq(beats)
    assert beats[0]["referrer"] == "blog.example.org" and beats[0]["embed"] is True
    assert not any("referrer" in beat or "embed" in beat for beat in beats[1:])
    assert [beat.get("failed") for beat in beats if "failed" in beat] == ["manifestLoadError"], beats
    assert not any("startup_ms" in beat or beat["play_ms"] for beat in beats)


def published_vod(app, owner_name: str) -> int:
    """A public VOD of `owner_name`'s, made of a short real recording: its id."""
    from app.storage.backends import storage_root

    with app.app_context():
        owner = make_user(owner_name)
        session = ended_session(owner)
        prefix = f"vods/{session.id}/"
        build_recording(storage_root(app.config) / prefix)
        vod = VOD(channel_id=owner.channel.id, session_id=session.id, title="Measured", visibility="public",
                  object_key=prefix + "master.m3u8", storage_prefix=prefix, duration_seconds=SECONDS,
                  thumbnail_key=prefix + "poster.jpg", thumbnails_key=prefix + "thumbnails.vtt")
        db.session.add(vod)
        db.session.commit()
        return vod.id


def test_vod_player_reports_the_positions_played(player_server, browser):  # noqa: F811 - pytest passes the imported fixture
    base, app = player_server
    beats = record_beats(app, "api.vod_watch")
    vod_id = published_vod(app, "qoevodder")
    context = open_context(browser, base, "dark", 1280)
    try:
        page = context.new_page()
        page.add_init_script(SAMPLER)
        segments: list[str] = []
        page.on("request", lambda req: ".m4s" in req.url and segments.append(req.url))
        page.goto(f"{base}/c/qoevodder/videos/{vod_id}")
        until_true(page, f"{VIDEO}.currentTime > 2.5", 20)
        seeked_from = page.evaluate(f"() => {{ const at = {VIDEO}.currentTime; {VIDEO}.currentTime = 5; return at; }}")
        until_true(page, f"{VIDEO}.ended", 15)
        wait_for(lambda: beats and beats[-1]["state"] == "ended", 5, "the beat at the video's end")
        measured = harness(page)
        page.goto("about:blank")  # nothing new since the end: no second "ended"
        time.sleep(1)
    finally:
        context.close()

    beats = by_seq(beats)
    assert [beat["state"] for beat in beats] == ["starting", "ended"], beats
    assert beats[0]["play_ms"] == 0 and beats[1]["startup_ms"] > 0
    ranges = [tuple(item) for beat in beats for item in beat.get("ranges", [])]
    assert len(ranges) == 2, ranges
    (first_from, first_to), (second_from, second_to) = ranges
    assert first_from < 0.3 and first_to == pytest.approx(seeked_from, abs=0.3)
    assert second_from == pytest.approx(5, abs=0.15) and second_to == pytest.approx(SECONDS, abs=0.2)
    played = sum(beat["play_ms"] for beat in beats)
    assert played == pytest.approx(measured["playing"], rel=0.05), (played, measured)
    assert played == pytest.approx((first_to - first_from + second_to - second_from) * 1000, rel=0.05)
    check_renditions(beats, {"360"})
    assert segments and all(cmcd(url)["sid"] == beats[0]["viewer"] and cmcd(url)["cid"] == str(vod_id)
                            for url in segments), segments


def wait_in_page(page, predicate, timeout: float, what: str) -> None:
    """Like `wait_for`, but waiting through Playwright: a routed request's handler runs only while
    Playwright is being called, so a Python sleep would hold the very beat being waited for."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        page.wait_for_timeout(100)


def test_a_beat_the_server_did_not_keep_travels_with_the_next(player_server, browser):  # noqa: F811 - fixture
    """A beat answered 503 (Redis away), or lost, gives its deltas back to the meter: the next
    beat carries them, and the played time the server gets still adds up."""
    base, app = player_server
    beats = record_beats(app, "api.vod_watch")
    vod_id = published_vod(app, "qoeretry")
    context = open_context(browser, base, "light", 390)
    refused: list[dict] = []

    def refuse_the_pause(route):
        beat = json.loads(route.request.post_data or "{}")
        if beat.get("state") == "paused" and not refused:
            refused.append(beat)
            route.fulfill(status=503, content_type="application/json", body='{"error": "Unavailable"}')
        else:
            route.continue_()

    try:
        page = context.new_page()
        page.add_init_script(SAMPLER)
        page.route(f"**/api/v1/vods/{vod_id}/watch", refuse_the_pause)
        page.goto(f"{base}/c/qoeretry/videos/{vod_id}")
        until_true(page, f"{VIDEO}.currentTime > 2", 20)
        page.evaluate(f"{VIDEO}.pause()")
        wait_in_page(page, lambda: refused, 5, "the pause beat")
        page.evaluate(f"{VIDEO}.play()")
        until_true(page, f"{VIDEO}.ended", 15)
        wait_in_page(page, lambda: beats and beats[-1]["state"] == "ended", 5, "the beat at the video's end")
        measured = harness(page)
    finally:
        context.close()
    assert refused and refused[0]["play_ms"] > 1500
    kept = [beat for beat in beats if beat["_status"] < 400]
    played = sum(beat["play_ms"] for beat in kept)
    assert played == pytest.approx(measured["playing"], rel=0.05), (kept, refused, measured)
    assert kept[-1]["play_ms"] >= refused[0]["play_ms"]  # it came with the next beat
