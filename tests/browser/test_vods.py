"""A recorded broadcast in Chromium: it plays, the seek bar previews its sprite tiles, and chat
replay shows the broadcast's messages in order as playback passes them (and refills on a seek).
Screenshots of the manager, a channel's videos and the watch page at phone and desktop widths."""
from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.extensions import db
from app.models import VOD
from tests.browser.conftest import log_in, open_page, serve
from tests.conftest import base_config, wait_for
from tests.factories import make_user
from tests.vods.factory import ended_session, say

pytestmark = pytest.mark.browser

SECONDS = 8
TILE_W, TILE_H, TILES = 160, 90, 4  # one preview every 2 s
# Chat said during the broadcast, by seconds after its first frame.
LINES = [(1.5, "first line at 1.5 s"), (3.5, "second line at 3.5 s"), (5.5, "third line at 5.5 s")]
# Said two minutes before the recording's first frame: the context replay opens with.
BEFORE = "said while the stream was starting"
PDT = re.compile(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)")


def ffmpeg(*args: str, cwd: Path) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                   cwd=cwd, check=True, timeout=120)


def build_recording(folder: Path) -> datetime:
    """A real 8 s VOD as the VOD job lays it out: an fMP4 HLS rung with program date-times, a
    master playlist, a poster, one sprite and its WebVTT. Returns the first segment's date-time."""
    (folder / "360p").mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
           "-t", str(SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "2",
           "-hls_playlist_type", "vod", "-hls_flags", "program_date_time",
           "-hls_fmp4_init_filename", "init-0.mp4", "-hls_segment_filename", "360p/seg-%d.m4s",
           "360p/index.m3u8", cwd=folder)
    (folder / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=1200000,RESOLUTION=640x360\n360p/index.m3u8\n")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-frames:v", "1", "poster.jpg", cwd=folder)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", str(SECONDS),
           "-vf", f"fps=1/2,scale={TILE_W}:{TILE_H},tile={TILES}x1", "-frames:v", "1", "sprite-0.jpg", cwd=folder)
    cues = ["WEBVTT", ""]
    for n in range(TILES):
        cues += [f"00:00:{n * 2:02d}.000 --> 00:00:{n * 2 + 2:02d}.000",
                 f"sprite-0.jpg#xywh={n * TILE_W},0,{TILE_W},{TILE_H}", ""]
    (folder / "thumbnails.vtt").write_text("\n".join(cues))
    first = PDT.search((folder / "360p" / "index.m3u8").read_text()).group(1)
    return datetime.fromisoformat(re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", first)).astimezone(UTC)


@pytest.fixture(scope="module")
def site(sqlite_url, tmp_path_factory):
    from app import create_app
    from app.storage.backends import storage_root

    media = tmp_path_factory.mktemp("vod-media")
    app = create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(media)})
    with app.app_context():
        owner = make_user("vodder")
        fan = make_user("chatfan")
        owner.channel.record = True
        db.session.commit()
        session = ended_session(owner, ended_ago=timedelta(hours=2))
        prefix = f"vods/{session.id}/"
        first_frame = build_recording(storage_root(app.config) / prefix)
        size = sum(p.stat().st_size for p in (storage_root(app.config) / prefix).rglob("*") if p.is_file())
        # started_at is deliberately an hour off: replay must follow the playlist's date-times.
        vod = VOD(channel_id=owner.channel.id, session_id=session.id, title="Testcard marathon",
                  object_key=prefix + "master.m3u8", storage_prefix=prefix, duration_seconds=SECONDS,
                  thumbnail_key=prefix + "poster.jpg", thumbnails_key=prefix + "thumbnails.vtt",
                  size_bytes=size, started_at=first_frame + timedelta(hours=1), visibility="public",
                  published_at=first_frame)
        db.session.add(vod)
        db.session.commit()
        for offset, text in LINES:
            say(vod, fan, text, first_frame + timedelta(seconds=offset))
        say(vod, fan, "a deleted line", first_frame + timedelta(seconds=2), state="deleted")
        say(vod, fan, BEFORE, first_frame - timedelta(minutes=2))
        # More videos for the grid and the manager: a private one and some published ones.
        for n, title in enumerate(["Late night chat", "Speedrun practice", "Private rehearsal"]):
            other = ended_session(owner, ended_ago=timedelta(days=n + 1))
            db.session.add(VOD(channel_id=owner.channel.id, session_id=other.id, title=title,
                               object_key=f"vods/{other.id}/master.m3u8", storage_prefix=f"vods/{other.id}/",
                               thumbnail_key=prefix + "poster.jpg", duration_seconds=3600 * n + 754,
                               size_bytes=(n + 1) * 734_003_200,
                               visibility="private" if "Private" in title else "public"))
        db.session.commit()
        processing = ended_session(owner, ended_ago=timedelta(seconds=30))  # its VOD is not ready yet
        vod_id = vod.id
        app.config["TEST_PROCESSING_SESSION"] = (processing.id, owner.channel.id)
    for base, served in serve(app):
        yield base, vod_id, served


def until(page, expression: str, seconds: float) -> None:
    """page.wait_for_function evaluates strings with eval, which our CSP forbids: poll instead."""
    wait_for(lambda: page.evaluate(expression), seconds, expression)


def played(page) -> float:
    return page.evaluate("document.querySelector('video').currentTime")


# Notes each replayed line with the playback position at which it appeared.
WATCH_LINES = """
document.addEventListener("DOMContentLoaded", () => {
  const list = document.querySelector("[data-replay-list]");
  const video = document.querySelector("video");
  if (!list) return;
  window.replayed = [];
  new MutationObserver(() => {
    for (const line of list.querySelectorAll(".chat-line:not([data-noted])")) {
      line.dataset.noted = "1";
      window.replayed.push([line.querySelector(".chat-text").textContent, video.currentTime]);
    }
  }).observe(list, { childList: true });
});
"""


def test_vod_plays_with_previews_and_chat_replay(browser, site):
    base, vod_id, _ = site
    context, page, problems = open_page(browser, base, 1280, "dark")
    page.add_init_script(WATCH_LINES)
    # The media playlist comes late, as on a slow phone: the replay must not show lines by a
    # guessed clock (the VOD's started_at is an hour off) before the playlist's dates are known.
    page.route(re.compile(r"/360p/index\.m3u8"), lambda route: (time.sleep(1.5), route.continue_()))
    page.goto(f"/c/vodder/videos/{vod_id}")
    until(page, "document.querySelector('video').currentTime > 1", 20)
    first = played(page)
    page.wait_for_timeout(1000)
    assert played(page) > first + 0.5, "playback does not advance"

    # Hovering the seek bar three quarters along shows the fourth tile (6 s to 8 s).
    seek = page.locator("[data-seek]").bounding_box()
    page.mouse.move(seek["x"] + seek["width"] * 0.8, seek["y"] + seek["height"] / 2)
    tile = page.locator("[data-preview-tile]")
    until(page, "!document.querySelector('[data-preview]').hidden", 5)
    assert tile.is_visible()
    style = tile.evaluate("t => [t.style.backgroundImage, t.style.backgroundPosition, t.offsetWidth]")
    assert "sprite-0.jpg" in style[0] and style[1] == f"-{3 * TILE_W}px 0px" and style[2] >= TILE_W
    assert page.locator("[data-preview-time]").text_content() == "0:06"
    page.mouse.move(seek["x"] + seek["width"] / 2, seek["y"] - 200)
    until(page, "document.querySelector('[data-preview]').hidden", 5)

    # The panel opens with what was said before (however long before), then each line appears
    # once, in order, as playback passes the moment it was said.
    until(page, "window.replayed && window.replayed.length >= 4", 20)
    replayed = page.evaluate("window.replayed")
    assert [text for text, _ in replayed] == [BEFORE] + [text for _, text in LINES]
    for (text, at), (offset, _) in zip(replayed[1:], LINES):
        assert offset - 0.35 <= at <= offset + 1.5, f"{text!r} appeared at {at:.2f} s"
    assert page.locator("[data-replay-list] .chat-line").count() == 4
    assert "a deleted line" not in page.locator("[data-replay-list]").inner_text()
    assert page.locator("[data-replay-list] .chat-tools").first.is_hidden()  # read-only

    # A step forward (hls.js nudging the playhead over a stall does this) keeps the panel as it is:
    # it used to empty it and replay every line again (a CI run on a busy box caught that).
    page.evaluate("window.replayed = []; const video = document.querySelector('video'); "
                  "video.currentTime = video.currentTime + 0.1")
    page.wait_for_timeout(1000)
    assert page.evaluate("window.replayed") == []
    assert page.locator("[data-replay-list] .chat-line").count() == 4

    # Seeking back clears the panel and replays from there.
    page.evaluate("window.replayed = []; document.querySelector('video').currentTime = 0.2")
    until(page, "document.querySelectorAll('[data-replay-list] .chat-line').length === 0", 5)
    until(page, "window.replayed.length >= 2", 15)
    assert page.evaluate("window.replayed.map(r => r[0]).slice(0, 2)") == [BEFORE, LINES[0][1]]

    # Seeking forward lands in the conversation: what was said before that point shows at once.
    page.evaluate("document.querySelector('video').pause(); document.querySelector('video').currentTime = 6.5")
    until(page, "document.querySelectorAll('[data-replay-list] .chat-line').length === 4", 5)
    assert page.locator("[data-replay-list] .chat-text").all_inner_texts() == [BEFORE] + [t for _, t in LINES]
    # The length reads the same under the player and in the title.
    total = page.locator("[data-total]").text_content()
    assert total == "0:08" and f"· {total}" in page.locator(".channel-owner .muted").inner_text()
    assert problems == []
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_vod_screenshots(browser, site, screenshot_dir, width, scheme):
    base, vod_id, _ = site
    context, page, problems = open_page(browser, base, width, scheme)
    log_in(page, "vodder")
    page.goto("/dashboard/videos")
    assert page.get_by_role("heading", name="Your videos").is_visible()
    assert page.locator(".vis-badge.vis-private").count() == 1
    page.screenshot(path=str(screenshot_dir / f"vods-manager-{width}-{scheme}.png"), full_page=True)
    # Rename inline, as htmx does it, then cancel.
    page.locator(f"#vod-{vod_id}").get_by_role("link", name="Rename").click()
    page.wait_for_selector(f"#vod-{vod_id} input[name=title]")
    page.screenshot(path=str(screenshot_dir / f"vods-manager-rename-{width}-{scheme}.png"), full_page=True)
    page.locator(f"#vod-{vod_id}").get_by_role("link", name="Cancel").click()
    page.wait_for_selector(f"#vod-{vod_id} .vod-row-title")
    assert page.get_by_text("Processing your last broadcast…").is_visible()
    # Delete asks first; "Keep it" goes back.
    page.locator(f"#vod-{vod_id}").get_by_role("link", name="Delete").click()
    page.wait_for_selector(f"#vod-{vod_id} .vod-confirm")
    page.locator(f"#vod-{vod_id} .vod-confirm").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / f"vods-manager-delete-{width}-{scheme}.png"))
    page.locator(f"#vod-{vod_id}").get_by_role("link", name="Keep it").click()
    page.wait_for_selector(f"#vod-{vod_id} .vod-actions")

    page.goto("/c/vodder")  # the channel page's Videos tab leads to the grid
    if width < 769:  # on phones the channel's tabs are among its details, behind About
        page.get_by_role("button", name="About").click()
    page.screenshot(path=str(screenshot_dir / f"vods-channel-tabs-{width}-{scheme}.png"))
    page.get_by_role("navigation", name="vodder's channel").get_by_role("link", name="Videos").click()
    page.wait_for_url("**/c/vodder/videos")
    assert page.locator(".vod-card").count() == 4 and page.locator(".badge-private").count() == 1
    page.screenshot(path=str(screenshot_dir / f"vods-grid-{width}-{scheme}.png"), full_page=True)

    page.goto(f"/c/vodder/videos/{vod_id}")
    until(page, "document.querySelector('video').currentTime > 2.2", 20)
    page.evaluate("document.querySelector('video').pause()")
    seek = page.locator("[data-seek]").bounding_box()
    page.mouse.move(seek["x"] + seek["width"] * 0.3, seek["y"] + seek["height"] / 2)
    until(page, "!document.querySelector('[data-preview]').hidden", 5)
    page.screenshot(path=str(screenshot_dir / f"vods-watch-{width}-{scheme}.png"), full_page=True)
    assert problems == []
    context.close()


def test_processing_notice_turns_into_the_new_video(browser, site):
    base, _, app = site
    context, page, problems = open_page(browser, base, 1280, "light")
    log_in(page, "vodder")
    page.goto("/dashboard/videos")
    assert page.get_by_text("Processing your last broadcast…").is_visible()
    session_id, channel_id = app.config["TEST_PROCESSING_SESSION"]
    with app.app_context():  # the VOD job finishes
        db.session.add(VOD(channel_id=channel_id, session_id=session_id, title="Fresh from the oven",
                           object_key=f"vods/{session_id}/master.m3u8", storage_prefix=f"vods/{session_id}/",
                           duration_seconds=61))
        db.session.commit()
    # Within one 5 s poll the notice goes and the library shows the new video, without a reload.
    page.get_by_text("Fresh from the oven").wait_for(timeout=12000)
    assert page.get_by_text("Processing your last broadcast…").count() == 0
    assert page.locator(".vod-row").first.get_by_text("Private").is_visible()
    assert problems == []
    context.close()
