"""Creator analytics with real viewers: five headless Chromium players watch a live ladder for
75 s (across a minute's boundary); the creator's live tile counts them exactly, the summary adds up (peak, uniques,
watch time against what each page measured), a paused viewer leaves the count and its pause is
not watch time, a throttled viewer rebuffers in its QoE, bots and reloads inflate nothing, and no
address is kept. Then the pages, at phone and desktop widths, dark and light."""
from __future__ import annotations

import json
import re
import shutil
import signal
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.analytics import collect, rollups
from app.channels import services as channels
from app.extensions import db, get_redis
from app.models import Channel, StreamMinute, StreamSession, ViewerSession
from app.streams import services as streams
from app.streams import viewers
from tests.browser.conftest import log_in
from tests.browser.test_player import (  # noqa: F401 - the module-scoped fixtures, shared
    media_root,
    open_context,
    player_server,
    start_ladder,
    until_true,
)
from tests.conftest import wait_for
from tests.factories import make_user

pytestmark = pytest.mark.browser

VIEWERS = 5
WATCH_SECONDS = 75  # the pause and the throttling take the first ~55 s of it
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
# What each page measures for itself, from before its player starts: wall-clock time with the
# playhead moving (not paused, not stalled), sampled every 250 ms; the harness's truth for watch time.
MEASURE = """(() => {
  window.__played = 0;
  let last = performance.now(), position = 0, video = null;
  setInterval(() => {
    const now = performance.now();
    video = video || document.querySelector('video');
    if (video && !video.paused && video.currentTime > position && video.readyState >= 3) window.__played += now - last;
    if (video) position = video.currentTime;
    last = now;
  }, 250);
})();"""


def watching_now(owner) -> int | None:
    """The live tile's "Watching now", as the creator reads it."""
    text = owner.locator("#analytics-live .kpi").first.locator(".kpi-value").inner_text().strip()
    return int(text) if text.isdigit() else None


def test_five_viewers_add_up(player_server, browser, media_root, screenshot_dir,  # noqa: F811 - fixtures
                                             monkeypatch):
    base, app = player_server
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is missing: `make test` installs it")
    with app.app_context():
        user = make_user("creator")
        slug, channel_id = user.channel.slug, user.channel.id
        key = channels.rotate_stream_key(db.session.get(Channel, channel_id))
        session = streams.go_live(key, ingest="nginx", client_id="9")
        name, session_id = session.internal_name, session.id
    ffmpeg = start_ladder(media_root / "hls" / name)
    contexts, pages = [], []
    try:
        wait_for(lambda: (media_root / "hls" / name / "v2" / "seg2.m4s").exists(), 20, "the first segments")
        with app.app_context():
            assert streams.mark_playable(session_id, 0)

        # The creator watches the live tile, which htmx refreshes every 10 s.
        owner_context = open_context(browser, base, "dark", 1280)
        owner = owner_context.new_page()
        log_in(owner, "creator")
        owner.goto("/dashboard/analytics")
        assert watching_now(owner) == 0

        # Five viewers, each its own browser (a user agent of its own: five people behind one NAT).
        for n in range(VIEWERS):
            context = browser.new_context(viewport={"width": 390, "height": 844},
                                          user_agent=f"{CHROME} viewer/{n}")
            context.add_init_script(MEASURE)
            page = context.new_page()
            page.goto(f"{base}/c/{slug}")
            contexts.append(context)
            pages.append(page)
        for page in pages:
            until_true(page, "document.querySelector('video').currentTime > 0.5", 30)
        all_playing = time.monotonic()
        wait_for(lambda: watching_now(owner) == VIEWERS, 20, "the live tile to show 5")
        assert time.monotonic() - all_playing < 20

        # Bots and curl fetch the page, the playlists and the heartbeat: nobody more is counted.
        for agent in ("curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)"):
            request = urllib.request.Request(f"{base}/c/{slug}", headers={"User-Agent": agent})
            token = re.search(r'data-viewer-token="([^"]+)"', urllib.request.urlopen(request).read().decode()).group(1)
            for path in ("/hls/" + name + "/master.m3u8", "/hls/" + name + "/v2/index.m3u8"):
                urllib.request.urlopen(urllib.request.Request(base + path, headers={"User-Agent": agent})).read()
            beat = json.dumps({"viewer": f"bot-viewer-{agent[:4]}", "token": token, "state": "playing",
                               "seq": 1, "play_ms": 10_000}).encode()
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/v1/channels/{slug}/watch", data=beat,
                                                          headers={"User-Agent": agent,
                                                                   "Content-Type": "application/json"})).read()
        # One viewer reloads three times: its old pages leave by their final beacon.
        played_before_reloads = 0.0  # what the pages it left had played
        for _ in range(3):
            played_before_reloads += pages[0].evaluate("window.__played") / 1000
            pages[0].reload()
            until_true(pages[0], "document.querySelector('video').currentTime > 0.5", 30)
        with app.app_context():
            wait_for(lambda: viewers.count(channel_id) == VIEWERS, collect.WINDOW_SECONDS + 5, "5 after reloads")

        # One viewer pauses for 30 s: it leaves the count within 25 s, and the pause is not watch time.
        pages[1].evaluate("document.querySelector('video').pause()")
        paused = time.monotonic()
        with app.app_context():
            wait_for(lambda: viewers.count(channel_id) == VIEWERS - 1, 25, "the paused viewer to leave")
        assert time.monotonic() - paused < 25
        # Another is throttled below the lowest rendition (400 kb/s) for 20 s: it rebuffers.
        cdp = contexts[2].new_cdp_session(pages[2])
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 100,
                                                      "downloadThroughput": 100_000 / 8, "uploadThroughput": 1e6})
        time.sleep(max(0.0, 30 - (time.monotonic() - paused)))
        pages[1].evaluate("document.querySelector('video').play()")
        time.sleep(max(0.0, 20 - (time.monotonic() - paused - 30)))
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                      "downloadThroughput": -1, "uploadThroughput": -1})
        until_true(pages[2], "document.querySelector('video').readyState >= 3", 30)
        time.sleep(max(0.0, WATCH_SECONDS - (time.monotonic() - all_playing)))

        played = [page.evaluate("window.__played") / 1000 for page in pages]
        for context in contexts:
            context.close()  # each page's final beacon says it has gone
        left = time.monotonic()
        wait_for(lambda: watching_now(owner) == 0, 35, "the tile to show 0")
        assert time.monotonic() - left < 35

        with app.app_context():
            monkeypatch.setattr(streams, "enqueue", lambda *args, **kwargs: None)  # no worker here
            streams.end_session(db.session.get(StreamSession, session_id))
            # What the worker's rollup chain does every 30 s, as it would after the viewer window.
            rollups.write_dirty(get_redis(), now=time.time() + collect.WINDOW_SECONDS + 1)
            summarized = rollups.summarize_due(now=datetime.now(UTC) + timedelta(seconds=rollups.SUMMARY_AFTER + 1))
            assert summarized == [session_id]
            summary = db.session.get(StreamSession, session_id).summary
            sessions = db.session.scalars(select(ViewerSession)).all()
            throttled = [s for s in sessions if s.rebuffers > 0]
            print(f"analytics: played {played} (sum {sum(played):.1f} s), summary watch {summary['watch_s']:.1f} s, "
                  f"peak {summary['peak']}, uniques {summary['uniques']}, views {summary['views']}, "
                  f"rebuffer {summary['qoe']['rebuffer_s']:.1f} s, startup p50 {summary['qoe']['startup_p50_ms']}")
            assert summary["peak"] == VIEWERS and summary["uniques"] == VIEWERS and summary["views"] == VIEWERS
            truth = sum(played) + played_before_reloads
            assert summary["watch_s"] == pytest.approx(truth, rel=0.05), (summary, played)
            assert throttled and sum(s.rebuffer_s for s in throttled) > 1
            assert summary["qoe"]["startups"] >= VIEWERS and summary["qoe"]["startup_p50_ms"] is not None
            # No address anywhere: not in Redis, not in the rows.
            redis = get_redis()
            for found in redis.keys("*"):
                assert b"127.0.0.1" not in found
                if redis.type(found) == b"hash":
                    assert b"127.0.0.1" not in b"".join(k + v for k, v in redis.hgetall(found).items())
            for row in [*sessions, *db.session.scalars(select(StreamMinute))]:
                assert "127.0.0.1" not in repr({c.name: getattr(row, c.name) for c in row.__table__.columns})

        for theme in ("dark", "light"):
            for width in (390, 1280):
                context = open_context(browser, base, theme, width)
                page = context.new_page()
                log_in(page, "creator")
                page.goto(f"/dashboard/analytics/broadcasts/{session_id}")
                assert page.locator(".kpi").first.locator(".kpi-value").inner_text() == str(VIEWERS)
                page.screenshot(path=str(screenshot_dir / f"analytics-broadcast-{width}-{theme}.png"), full_page=True)
                page.goto("/dashboard/analytics")
                page.screenshot(path=str(screenshot_dir / f"analytics-channel-{width}-{theme}.png"), full_page=True)
                context.close()
    finally:
        for context in contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - closed already in the test
                pass
        if ffmpeg.poll() is None:
            ffmpeg.send_signal(signal.SIGINT)
            ffmpeg.wait(10)
