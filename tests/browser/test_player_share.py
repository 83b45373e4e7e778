"""The live player's volume and the sound it remembers, the Share dialog, and the embeddable player
on another site's page, in Chromium on a real HLS ladder."""
import shutil

import pytest
from playwright.sync_api import expect

from app.channels import services as channels
from app.extensions import db
from app.models import Channel
from app.streams import services as streams
from tests.browser.test_player import media_root, open_context, player_server, start_ladder, until_true  # noqa: F401 - fixtures (and helpers) from there
from tests.conftest import wait_for
from tests.factories import make_user
from tests.httpd import Quiet, Served

pytestmark = pytest.mark.browser

PLAYING = "document.querySelector('video') && document.querySelector('video').currentTime > 0.5"


@pytest.fixture(scope="module")
def live_channel(player_server, media_root, tmp_path_factory):  # noqa: F811 - pytest passes the imported fixture
    """A channel live on a real ladder for the whole module."""
    base, app = player_server
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is missing: `make test` installs it")
    ready = tmp_path_factory.mktemp("share-ladder")
    ffmpeg = start_ladder(ready)
    try:
        wait_for(lambda: (ready / "master.m3u8").exists() and (ready / "v2" / "seg2.m4s").exists(), 20,
                 "the first segments")
        with app.app_context():
            user = make_user("sharer")
            user.channel.title = 'Late "night" <stream>'
            db.session.commit()
            key = channels.rotate_stream_key(db.session.get(Channel, user.channel.id))
            session = streams.go_live(key, ingest="nginx", client_id="21")
            (media_root / "hls").mkdir(exist_ok=True)
            (media_root / "hls" / session.internal_name).symlink_to(ready, target_is_directory=True)
            assert streams.mark_playable(session.id, 0)
        yield base, "sharer"
    finally:
        ffmpeg.kill()
        ffmpeg.wait(5)


def sound(page) -> dict:
    return page.evaluate("({ muted: document.querySelector('video').muted, "
                         "volume: document.querySelector('video').volume })")


def test_volume_and_mute_are_remembered_in_this_browser(browser, live_channel):
    base, slug = live_channel
    context = open_context(browser, base, "dark", 1280)
    try:
        page = context.new_page()
        page.goto(f"{base}/c/{slug}")
        until_true(page, PLAYING, 20)
        assert sound(page)["muted"] is True  # a first visit starts muted
        slider = page.locator("[data-volume]")
        assert slider.is_visible()
        slider.fill("0.3")  # dispatches input, as dragging does
        assert sound(page) == {"muted": False, "volume": pytest.approx(0.3)}
        assert page.locator("[data-unmute-label]").inner_text() == "Mute"
        page.screenshot(path="tests/artifacts/screenshots/player-volume-desktop-dark.png")

        page.reload()
        until_true(page, PLAYING, 20)
        assert sound(page) == {"muted": False, "volume": pytest.approx(0.3)}  # with sound, as left
        assert page.locator("[data-volume]").input_value() == "0.3"

        page.locator("[data-unmute]").click()
        assert sound(page)["muted"] is True
        page.reload()
        until_true(page, PLAYING, 20)
        assert sound(page) == {"muted": True, "volume": pytest.approx(0.3)}
        assert page.locator("[data-volume]").input_value() == "0"
    finally:
        context.close()


def test_phones_set_the_volume_with_their_buttons(browser, live_channel):
    base, slug = live_channel
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{base}/c/{slug}")
        until_true(page, PLAYING, 20)
        assert page.locator("[data-unmute]").is_visible()
        assert page.locator("[data-volume]").is_hidden()
    finally:
        context.close()


def stored_sound(page) -> dict | None:
    return page.evaluate("JSON.parse(localStorage.getItem('cascade-player-sound'))")


def test_a_phone_remembers_mute_from_the_mute_button(browser, live_channel):
    base, slug = live_channel
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  base_url=base)
    context.add_cookies([{"name": "theme", "value": "light", "url": base}])
    try:
        page = context.new_page()
        page.goto(f"/c/{slug}")
        until_true(page, PLAYING, 20)
        assert sound(page)["muted"] is True  # a first visit starts muted
        assert stored_sound(page) is None
        button = page.locator("[data-unmute]")
        label = page.locator("[data-unmute-label]")
        assert page.locator("[data-volume]").is_hidden()  # no slider on a phone: the button only

        button.tap()
        expect(label).to_have_text("Mute")  # the label follows the element's volumechange event
        assert sound(page)["muted"] is False
        assert stored_sound(page)["muted"] is False
        page.reload()
        until_true(page, PLAYING, 20)
        # With sound again: Chromium here allows autoplay with sound (no-user-gesture-required).
        assert sound(page)["muted"] is False
        expect(label).to_have_text("Mute")
        assert button.get_attribute("aria-pressed") == "true"
        page.screenshot(path="tests/artifacts/screenshots/player-sound-phone-light.png")

        button.tap()
        expect(label).to_have_text("Unmute")
        assert sound(page)["muted"] is True
        page.reload()
        until_true(page, PLAYING, 20)
        assert sound(page)["muted"] is True  # still muted, and playing
        expect(label).to_have_text("Unmute")
        assert button.get_attribute("aria-pressed") == "false"
        assert stored_sound(page)["muted"] is True
        page.screenshot(path="tests/artifacts/screenshots/player-muted-phone-light.png")

        button.tap()
        page.reload()
        until_true(page, PLAYING, 20)
        assert sound(page)["muted"] is False
        expect(label).to_have_text("Mute")
    finally:
        context.close()


@pytest.mark.parametrize("width, scheme", [(390, "light"), (1280, "dark")])
def test_share_gives_the_link_and_the_embed_code(browser, live_channel, width, scheme):
    base, slug = live_channel
    context = open_context(browser, base, scheme, width)
    try:
        page = context.new_page()
        page.goto(f"{base}/c/{slug}")
        page.locator("[data-share]").click()
        dialog = page.locator("[data-share-dialog]")
        assert dialog.is_visible()
        assert page.locator("[data-share-link]").input_value() == f"{base}/c/{slug}"
        code = page.locator("[data-share-embed]").input_value()
        assert code.startswith(f'<iframe src="{base}/embed/{slug}" ')
        assert 'title="Late &quot;night&quot; &lt;stream>"' in code  # escaped for the attribute
        page.locator("[data-share-chat]").check()
        assert f'src="{base}/embed/{slug}?chat=1"' in page.locator("[data-share-embed]").input_value()
        page.locator("[data-copy='[data-share-embed]']").click()
        page.locator("[data-share-status]:not(:empty)").wait_for(timeout=5000)  # the clipboard answers later
        assert page.locator("[data-share-status]").inner_text() in ("Copied.", "Select the text and copy it.")
        page.screenshot(path=f"tests/artifacts/screenshots/share-{width}-{scheme}.png")
        page.locator("[data-share-close]").click()
        assert dialog.is_hidden()
    finally:
        context.close()


@pytest.fixture
def other_site():
    """Another site on this machine (its own origin, on loopback as a real one would be to
    Chromium's local-network checks) whose page carries the embed code it is given."""
    pages = {}

    class Handler(Quiet):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    served = Served(Handler)
    yield f"http://localhost:{served.port}", pages
    served.close()


@pytest.mark.parametrize("width", [390, 960])
def test_the_embedded_player_plays_inside_another_sites_page(browser, live_channel, other_site, width):
    base, slug = live_channel
    other, pages = other_site
    frame_height = 520 if width < 600 else 360
    pages["/blog"] = (f'<!doctype html><meta name="viewport" content="width=device-width"><h1>My blog</h1>'
                      f'<iframe src="{base}/embed/{slug}?chat=1" width="{width - 20}" height="{frame_height}" '
                      f'allow="autoplay; fullscreen" style="border:0"></iframe>')
    context = browser.new_context(viewport={"width": width, "height": 700})
    try:
        page = context.new_page()
        page.goto(f"{other}/blog")
        frame = page.frame_locator("iframe")
        frame.locator("video").wait_for(state="visible", timeout=10_000)
        embedded = next(f for f in page.frames if "/embed/" in f.url)
        wait_for(lambda: embedded.evaluate("document.querySelector('video').currentTime") > 0.5, 20,
                 "the embedded player to play")
        assert frame.locator(".site-header").count() == 0  # the player, not the site
        assert frame.locator(".chat").is_visible()
        assert frame.locator("[data-chat-input]").count() == 0  # read-only
        assert frame.locator(".chat-login a").inner_text().startswith("Chat on")
        # A narrow embed keeps its buttons whole: the volume slider gives way (the player's width, not
        # the window's, decides), and nothing in the control bar overflows it.
        assert frame.locator("[data-volume]").is_visible() == (width > 600)
        assert embedded.evaluate("""[...document.querySelectorAll('.player-controls > *')].every(
            (el) => el.scrollWidth <= el.clientWidth + 1)""")
        page.screenshot(path=f"tests/artifacts/screenshots/embed-{width}.png")
    finally:
        context.close()


def test_only_the_embed_page_may_be_framed(live_channel):
    base, slug = live_channel
    from urllib.error import HTTPError
    from urllib.request import urlopen

    with urlopen(f"{base}/embed/{slug}") as response:
        assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
        assert response.headers.get("X-Frame-Options") is None
    with urlopen(f"{base}/c/{slug}") as response:
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
    with pytest.raises(HTTPError) as missing:
        urlopen(f"{base}/embed/nobody-here")
    assert missing.value.code == 404
    missing.value.close()
