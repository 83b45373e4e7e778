"""The channel page plays a real HLS ladder in Chromium and follows the stream starting, going live and
going offline."""
import io
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from flask import Response, abort
from PIL import Image
from werkzeug.security import safe_join

from app.channels import services as channels
from app.extensions import db, get_redis
from app.live.state import LiveKeys
from app.models import Channel, StreamSession
from app.streams import services as streams
from tests.browser.conftest import serve
from tests.conftest import base_config, wait_for
from tests.factories import PASSWORD, make_live, make_user

pytestmark = pytest.mark.browser

RUNGS = [("480p", 854, 480, "1200k"), ("360p", 640, 360, "800k"), ("240p", 426, 240, "400k")]
MIME = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4",
        ".jpg": "image/jpeg"}


def serve_file(root: Path, path: str):
    """What nginx does in production: playlists never cached, everything else as a file."""
    full = safe_join(str(root), path)
    if full is None or not Path(full).is_file():
        abort(404)
    suffix = Path(full).suffix
    if suffix == ".m3u8":
        return Response(Path(full).read_bytes(), mimetype=MIME[suffix], headers={"Cache-Control": "no-store"})
    # Read whole, not streamed from an open file: the player aborts requests as it switches or
    # goes offline, and the dev server leaves a dropped response's file for the collector to close,
    # which fails the test as a ResourceWarning (these files are small).
    return Response(Path(full).read_bytes(), mimetype=MIME.get(suffix, "application/octet-stream"))


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def player_server(sqlite_url, media_root):
    """A live app whose test-only routes stand in for nginx's /hls/ and /media/ locations."""
    from app import create_app
    from app.storage.backends import storage_root

    app = create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(media_root)})
    hls_root, objects = media_root / "hls", storage_root(app.config)
    app.add_url_rule("/hls/<path:path>", "test_hls", lambda path: serve_file(hls_root, path))
    app.add_url_rule("/media/<path:path>", "test_media", lambda path: serve_file(objects, path))
    yield from serve(app)


def start_ladder(out: Path) -> subprocess.Popen:
    """A live fMP4 HLS ladder with a master playlist, written in real time like the worker's."""
    filters = "[0:v]split=3[v0][s1][s2];[s1]scale=640:360[v1];[s2]scale=426:240[v2]"
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=854x480:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-filter_complex", filters, "-map", "[v0]", "-map", "[v1]", "-map", "[v2]",
            "-map", "1:a", "-map", "1:a", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
            "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0"]
    for index, (_, _, _, rate) in enumerate(RUNGS):
        args += [f"-b:v:{index}", rate]
    args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2",
             "-f", "hls", "-hls_time", "1", "-hls_list_size", "8", "-hls_segment_type", "fmp4",
             "-hls_flags", "delete_segments+independent_segments+temp_file",
             "-master_pl_name", "master.m3u8", "-var_stream_map", "v:0,a:0 v:1,a:1 v:2,a:2",
             "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "v%v/seg%d.m4s", "v%v/index.m3u8"]
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(args, cwd=out, stdin=subprocess.DEVNULL)



def until_true(page, expression: str, timeout: float):
    """page.wait_for_function evaluates strings with eval, which our CSP forbids: poll instead."""
    wait_for(lambda: page.evaluate(expression), timeout, expression)


def open_context(browser, base: str, theme: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900}, base_url=base)
    context.add_cookies([{"name": "theme", "value": theme, "url": base}])
    return context


def test_player_goes_live_plays_and_goes_offline_without_reload(player_server, browser, media_root,
                                                                 screenshot_dir, monkeypatch):
    base, app = player_server
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is missing: `make test` installs it")
    with app.app_context():
        user = make_user("streamer")
        slug, channel_id = user.channel.slug, user.channel.id

    context = open_context(browser, base, "dark", 1280)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # hls.js's worker comes from our static files: a blob: worker would break the CSP here.
    page.on("console", lambda msg: "Content Security Policy" in msg.text and errors.append(msg.text))
    page.goto(f"{base}/c/{slug}")
    assert page.get_by_text("streamer is offline").is_visible()
    assert page.locator("video").is_hidden()
    page.evaluate("window.__sameDocument = true")

    ffmpeg = None
    try:
        # A publisher connects: the session opens, and until a live host says the stream is playable
        # the page says it is starting (the page polls the API every ~3 s while offline).
        with app.app_context():
            key = channels.rotate_stream_key(db.session.get(Channel, channel_id))
            session = streams.go_live(key, ingest="nginx", client_id="7")
            name, session_id = session.internal_name, session.id
        page.get_by_text("Starting…").wait_for(timeout=5_000)
        assert page.get_by_text("streamer is offline").is_hidden()
        assert page.locator("video").is_hidden()
        assert page.locator("[data-status-pill]").inner_text() == "Starting"
        ffmpeg = start_ladder(media_root / "hls" / name)
        wait_for(lambda: (media_root / "hls" / name / "master.m3u8").exists()
                 and (media_root / "hls" / name / "v2" / "seg2.m4s").exists(), 20, "the first segments")

        # Starting → live without a reload: the page asks every second while starting.
        with app.app_context():
            assert streams.mark_playable(session_id, 0)
        page.locator("video").wait_for(state="visible", timeout=4_000)
        assert page.locator("[data-status-pill]").inner_text() == "Live"
        assert page.get_by_text("Starting…").is_hidden()
        until_true(page, "document.querySelector('video').currentTime > 0.5", 20)
        page.evaluate("""() => {
            window.__stalls = 0;
            const video = document.querySelector('video');
            video.addEventListener('waiting', () => { window.__stalls += 1; });
        }""")
        # hls.js may start at 0 and then jump to the live point: measure after it has settled.
        time.sleep(3)
        page.evaluate("window.__stalls = 0")
        samples = []
        for _ in range(11):
            samples.append(page.evaluate("document.querySelector('video').currentTime"))
            time.sleep(1)
        steps = [b - a for a, b in zip(samples, samples[1:])]
        assert samples[-1] - samples[0] >= 8.5, samples
        assert all(step > 0.3 for step in steps), samples
        assert page.evaluate("window.__stalls") == 0
        assert page.evaluate("document.querySelector('video').paused") is False

        options = page.locator("[data-quality] option").all_inner_texts()
        assert options[0].startswith("Auto")
        assert options[1:] == [label for label, *_ in RUNGS]
        assert page.locator("[data-quality]").is_visible()
        page.locator("[data-quality]").select_option(label="240p")
        until_true(page, "document.querySelector('video').videoHeight === 240", 15)

        assert page.locator("[data-unmute]").inner_text().strip() == "Unmute"
        page.locator("[data-unmute]").click()
        assert page.evaluate("document.querySelector('video').muted") is False
        # The label follows the video's volumechange event, which the browser fires a moment later.
        until_true(page, "document.querySelector('[data-unmute]').textContent.trim() === 'Mute'", 5)

        # Stats for nerds: what hls.js sees, refreshed every second, remembered across pages.
        page.get_by_role("button", name="Stats for nerds").click()
        stats = page.locator("[data-player-stats]")
        assert stats.is_visible()
        until_true(page, "document.querySelector('[data-stat=latency]').textContent.includes('behind live')", 5)
        assert "240" in stats.locator("[data-stat=level]").inner_text()
        assert stats.locator("[data-stat=bitrate]").inner_text().endswith("bps")
        assert " of " in stats.locator("[data-stat=dropped]").inner_text()
        assert stats.locator("[data-stat=mode]").inner_text() == "HLS"
        page.screenshot(path=str(screenshot_dir / "player-stats-1280-dark.png"))
        page.get_by_role("button", name="Stats for nerds").click()
        assert stats.is_hidden()

        page.get_by_role("button", name="Full screen").click()
        until_true(page, "document.fullscreenElement === document.querySelector('[data-player-live]')", 5)
        page.get_by_role("button", name="Full screen").click()
        until_true(page, "document.fullscreenElement === null", 5)

        page.locator("[data-quality]").select_option("-1")
        for theme in ("dark", "light"):
            for width in (390, 1280):
                shot_context = open_context(browser, base, theme, width)
                shot = shot_context.new_page()
                shot.goto(f"{base}/c/{slug}")
                until_true(shot, "document.querySelector('video').currentTime > 1", 20)
                shot.screenshot(path=str(screenshot_dir / f"player-live-{width}-{theme}.png"))
                shot_context.close()

        # The creator stops: the session ends and the encoder finishes its playlists.
        with app.app_context():
            monkeypatch.setattr(streams, "enqueue", lambda *args, **kwargs: None)  # no worker here
            streams.end_session(db.session.get(StreamSession, session_id))
        ffmpeg.send_signal(signal.SIGINT)
        ffmpeg.wait(10)
        stopped = time.monotonic()
        page.locator("[data-player-offline]").wait_for(state="visible", timeout=12_000)
        assert time.monotonic() - stopped < 12
        assert page.locator("video").is_hidden()
        assert page.locator("[data-status-pill]").inner_text() == "Offline"
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        page.screenshot(path=str(screenshot_dir / "player-offline-1280-dark.png"))
    finally:
        if ffmpeg and ffmpeg.poll() is None:
            ffmpeg.kill()
            ffmpeg.wait(5)
        context.close()
    assert errors == []


def test_an_offline_page_plays_as_soon_as_the_stream_is_announced(player_server, browser, media_root,
                                                                   tmp_path):
    """The "live" push over the chat socket starts the player on a page still showing the offline
    card, whose own poll comes only every 3 s (and may not have seen "starting" yet)."""
    base, app = player_server
    with app.app_context():
        user = make_user("pusher")
        slug, channel_id = user.channel.slug, user.channel.id
    ready = tmp_path / "ladder"
    ffmpeg = start_ladder(ready)
    context = open_context(browser, base, "light", 390)
    try:
        wait_for(lambda: (ready / "master.m3u8").exists() and (ready / "v2" / "seg2.m4s").exists(), 20,
                 "the first segments")
        page = context.new_page()
        page.goto(f"{base}/c/{slug}")
        assert page.get_by_text("pusher is offline").is_visible()
        time.sleep(0.5)  # the page's first poll has been answered: the next one is 2.5 s away
        with app.app_context():
            key = channels.rotate_stream_key(db.session.get(Channel, channel_id))
            session = streams.go_live(key, ingest="nginx", client_id="8")
            (media_root / "hls").mkdir(exist_ok=True)
            (media_root / "hls" / session.internal_name).symlink_to(ready, target_is_directory=True)
            announced = time.monotonic()
            assert streams.mark_playable(session.id, 0)
        page.locator("video").wait_for(state="visible", timeout=5_000)
        assert time.monotonic() - announced < 1.5, "the page waited for its next poll"
        assert page.locator("[data-status-pill]").inner_text() == "Live"
    finally:
        ffmpeg.kill()
        ffmpeg.wait(5)
        context.close()


def test_dashboard_live_panel_screenshots(player_server, browser, screenshot_dir, monkeypatch):
    base, app = player_server
    with app.app_context():
        user = make_user("panelcreator")
        session = make_live(user)
        session_name = session.internal_name
        get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps({
            "state": "running", "fps": 30, "speed": 0.93, "drop_frames": 214, "dup_frames": 12,
            "ladder": [{"name": "720p", "height": 720, "target_kbps": 3500, "kbps": 3480},
                       {"name": "480p", "height": 480, "target_kbps": 2000, "kbps": 1990},
                       {"name": "360p", "height": 360, "target_kbps": 1200, "kbps": 1185}],
            "preset": "superfast", "encoder": "libx264", "restarts": 1, "headroom_step": 1,
            "note": "Encoding ran at 0.71× real time for 20 s (214 frames dropped), so we restarted "
                    "without 1080p and with the superfast preset. Your viewers now get 720p, 480p and 360p.",
        }), ex=600)

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=login]", "panelcreator")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    # Upload a custom thumbnail through the htmx form, as a creator would.
    page.goto(f"{base}/dashboard")
    picture = io.BytesIO()
    gradient = Image.linear_gradient("L").resize((1600, 1000))
    Image.merge("RGB", (gradient, gradient.rotate(90), Image.new("L", (1600, 1000), 140))).save(picture, "PNG")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "cover.png", "mimeType": "image/png", "buffer": picture.getvalue()}])
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("Thumbnail saved.").wait_for(timeout=10_000)
    until_true(page, "document.querySelector('#thumbnail img').naturalWidth === 1280", 10)
    assert page.evaluate("window.location.pathname") == "/dashboard"
    state = context.storage_state()
    context.close()

    for theme in ("dark", "light"):
        for width in (390, 1280):
            context = browser.new_context(storage_state=state,
                                          viewport={"width": width, "height": 844 if width < 600 else 900})
            context.add_cookies([{"name": "theme", "value": theme, "url": base}])
            page = context.new_page()
            page.goto(f"{base}/dashboard")
            panel = page.locator("#live-status")
            assert "Live" in panel.locator(".status-pill").inner_text()
            assert "0.93×" in panel.inner_text() and "superfast" in panel.inner_text()
            page.screenshot(path=str(screenshot_dir / f"dashboard-live-{width}-{theme}.png"), full_page=True)
            context.close()

    for width in (390, 1280):
        context = open_context(browser, base, "light", width)
        page = context.new_page()
        page.goto(f"{base}/directory")
        until_true(page, "document.querySelector('.channel-card img').naturalWidth === 1280", 10)
        page.screenshot(path=str(screenshot_dir / f"directory-thumbnail-{width}-light.png"))
        context.close()

    # The panel refreshes itself: the stats change and the page shows it without a reload.
    context = browser.new_context(storage_state=state)
    page = context.new_page()
    page.goto(f"{base}/dashboard")
    with app.app_context():
        get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps({"fps": 30, "speed": 1.41}), ex=600)
    until_true(page, "document.querySelector('#live-status').textContent.includes('1.41×')", 8)

    # Stop asks first, then ends the session; the panel says so in place, even when the panel
    # refreshes itself while the press is on its way (the drop takes a second here).
    dropped = []

    def slow_drop(url, **kwargs):
        time.sleep(1)
        dropped.append(kwargs["params"])

    monkeypatch.setattr(streams.requests, "get", slow_drop)
    monkeypatch.setattr(streams, "enqueue", lambda *args, **kwargs: None)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop stream").click()
    page.evaluate("htmx.trigger('#live-status', 'cascade:stream-changed')")
    page.get_by_text("Your stream has stopped.").wait_for(timeout=8_000)
    assert page.locator("#live-status .status-pill").inner_text() == "Stopped"  # Stop's cool-down
    assert dropped == [{"app": "live", "name": session_name}]
    context.close()
