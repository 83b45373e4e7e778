"""The channel page while a stream is starting, and while its playlists are missing: it says
"Starting…", follows the stream live by itself, and never asks for the master playlist (or the
API) more than about once a second."""
import re
import time

import pytest

from app.channels import services as channels
from app.extensions import db
from app.models import StreamSession
from app.streams import services as streams
from tests.browser.conftest import open_page
from tests.conftest import wait_for
from tests.factories import make_live, make_user

pytestmark = pytest.mark.browser

WATCH_SECONDS = 10
MAX_PER_WATCH = 12  # about one a second; hls.js alone used to ask 25–50 times a second on a 404


class Requests:
    """Counts the page's requests for the master playlist and for the channel's status."""

    def __init__(self, page, slug: str):
        self.page = page
        self.masters: list[float] = []
        self.polls: list[float] = []
        status = f"/api/v1/channels/{slug}"

        def seen(request):
            path = request.url.split("?")[0]
            if path.endswith("/master.m3u8"):
                self.masters.append(time.monotonic())
            elif path.endswith(status) or path.endswith(status + "/watch"):
                self.polls.append(time.monotonic())
        page.on("request", seen)

    def during(self, seconds: float) -> tuple[int, int]:
        """How many of each the page asks for in the next `seconds`."""
        start = time.monotonic()
        self.page.wait_for_timeout(seconds * 1000)  # unlike time.sleep, hears the page's events meanwhile
        return (sum(start <= t for t in self.masters), sum(start <= t for t in self.polls))


def publish(username: str) -> StreamSession:
    """A publisher connects: the session opens, and the channel is not announced live yet."""
    user = make_user(username)
    return streams.go_live(channels.rotate_stream_key(user.channel), ingest="nginx", client_id="7")


def watch(browser, base: str, slug: str):
    context, page, _ = open_page(browser, base, 1280, "dark")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    counted = Requests(page, slug)
    page.goto(f"/c/{slug}")
    return context, page, counted, errors


def test_starting_then_live_with_missing_playlists_backs_off(live_server, browser, screenshot_dir):
    base, app = live_server
    with app.app_context():
        session = publish("starter")
        slug, session_id = session.channel.slug, session.id

    context, page, counted, errors = watch(browser, base, slug)
    try:
        card = page.locator("[data-player-offline]")
        assert card.get_by_text("Starting…").is_visible()
        assert card.get_by_text("starter is offline").is_hidden()
        assert page.get_by_text("Reconnecting…").is_hidden()
        assert page.locator("video").is_hidden()
        assert page.locator("[data-status-pill]").inner_text() == "Starting"
        page.screenshot(path=str(screenshot_dir / "player-starting-1280-dark.png"))
        masters, polls = counted.during(4)
        assert masters == 0 and 2 <= polls <= 5, polls  # it polls about once a second, no faster

        # A live host says the stream is playable, but its files are missing: every playlist 404s.
        with app.app_context():
            assert streams.mark_playable(session_id, 0)
        page.locator("video").wait_for(state="visible", timeout=3_000)
        assert page.locator("[data-status-pill]").inner_text() == "Live"
        assert card.is_hidden()
        page.get_by_text("Reconnecting…").wait_for(timeout=3_000)
        masters, polls = counted.during(WATCH_SECONDS)
        assert 2 <= masters <= MAX_PER_WATCH, counted.masters
        assert polls <= MAX_PER_WATCH, counted.polls
        assert page.get_by_text("Starting…").is_hidden()

        # The stream ends: the card comes back, offline this time.
        with app.app_context():
            streams.end_session(db.session.get(StreamSession, session_id))
        page.get_by_text("starter is offline").wait_for(timeout=12_000)
        assert page.locator("[data-status-pill]").inner_text() == "Offline"
        assert page.get_by_text("Starting…").is_hidden()
    finally:
        context.close()
    assert errors == []


def test_live_channel_whose_master_playlist_is_missing(live_server, browser):
    base, app = live_server
    with app.app_context():
        slug = make_live(make_user("ghost")).channel.slug

    context, page, counted, errors = watch(browser, base, slug)
    try:
        masters, polls = counted.during(WATCH_SECONDS)
        assert 2 <= masters <= MAX_PER_WATCH, counted.masters
        assert polls <= MAX_PER_WATCH, counted.polls
        gaps = [b - a for a, b in zip(counted.masters, counted.masters[1:])]
        assert all(gap >= 0.9 for gap in gaps), gaps  # never two at once either
        assert page.get_by_text("Reconnecting…").is_visible()
    finally:
        context.close()
    assert errors == []


def test_native_hls_backs_off_too(live_server, browser):
    """Safari's path: no hls.js, the video element loads the playlist itself and only says "error"."""
    base, app = live_server
    with app.app_context():
        slug = make_live(make_user("safari")).channel.slug

    context, page, _ = open_page(browser, base, 1280, "dark")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(re.compile(r"/vendor/hls-[0-9.]+\.min\.js"), lambda route: route.fulfill(
        status=200, content_type="text/javascript", body="/* no hls.js: native HLS */"))
    page.add_init_script("""(() => {
        const canPlayType = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
            return type === 'application/vnd.apple.mpegurl' ? 'maybe' : canPlayType.call(this, type);
        };
    })();""")
    counted = Requests(page, slug)
    try:
        page.goto(f"/c/{slug}")
        wait_for(lambda: counted.masters, 5, "the video element to ask for the master playlist")
        masters, polls = counted.during(WATCH_SECONDS)
        assert page.evaluate("window.Hls === undefined")
        assert 2 <= masters <= MAX_PER_WATCH, counted.masters
        assert polls <= MAX_PER_WATCH, counted.polls
        assert page.get_by_text("Reconnecting…").is_visible()
    finally:
        context.close()
    assert errors == []
