"""Watching on a phone (the player pinned on top, chat filling the rest, the keyboard never pushing
the player away) and theatre mode on desktop, in Chromium on a real HLS ladder."""
import shutil

import pytest
from playwright.sync_api import expect

from app.channels import services as channels
from app.extensions import db
from app.models import Channel, ChatMessage
from app.streams import services as streams
from tests.browser.conftest import log_in
from tests.browser.test_player import media_root, player_server, start_ladder, until_true  # noqa: F401 - fixtures (and helpers) from there
from tests.conftest import wait_for
from tests.factories import make_user

pytestmark = pytest.mark.browser

PLAYING = "document.querySelector('video') && document.querySelector('video').currentTime > 0.5"
LINES = 40


@pytest.fixture(scope="module")
def live_channel(player_server, media_root, tmp_path_factory):  # noqa: F811 - pytest passes the imported fixture
    """A channel live on a real ladder with a chat longer than any phone screen, and a viewer."""
    base, app = player_server
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is missing: `make test` installs it")
    ready = tmp_path_factory.mktemp("watch-ladder")
    ffmpeg = start_ladder(ready)
    try:
        wait_for(lambda: (ready / "master.m3u8").exists() and (ready / "v2" / "seg2.m4s").exists(), 20,
                 "the first segments")
        with app.app_context():
            owner = make_user("nightowl")
            owner.channel.title = "Late night synth jam with a title long enough to wrap on a phone"
            owner.channel.tags = ["synthwave", "chill"]
            make_user("phonefan")
            chatty = make_user("chatty")
            db.session.add_all(ChatMessage(channel_id=owner.channel.id, user_id=chatty.id,
                                           text=f"message number {n}: the bass on this one is lovely")
                               for n in range(1, LINES + 1))
            db.session.commit()
            key = channels.rotate_stream_key(db.session.get(Channel, owner.channel.id))
            session = streams.go_live(key, ingest="nginx", client_id="31")
            (media_root / "hls").mkdir(exist_ok=True)
            (media_root / "hls" / session.internal_name).symlink_to(ready, target_is_directory=True)
            assert streams.mark_playable(session.id, 0)
        yield base, "nightowl"
    finally:
        ffmpeg.kill()
        ffmpeg.wait(5)


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def at_newest_line(page) -> bool:
    """The chat's last line is inside the list's visible part."""
    return page.evaluate("(() => { const l = document.querySelector('[data-chat-list]');"
                         " const last = l.lastElementChild.getBoundingClientRect(), r = l.getBoundingClientRect();"
                         " return last.bottom <= r.bottom + 1 && last.top >= r.top; })()")


def shoot(page, path):
    # caret="initial": Playwright hides the caret with an inline style, which the CSP refuses and logs.
    page.screenshot(path=path, caret="initial")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_keeps_the_player_on_screen_while_chatting(browser, live_channel, screenshot_dir, scheme):
    base, slug = live_channel
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme,
                                  base_url=base, is_mobile=True, has_touch=True)
    context.add_cookies([{"name": "theme", "value": scheme, "url": base}])
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        log_in(page, "phonefan")
        page.goto(f"/c/{slug}")
        until_true(page, PLAYING, 20)
        chat_input = page.locator("[data-chat-input]")
        expect(page.locator("[data-chat-list] .chat-line")).to_have_count(LINES)

        # Keyboard closed: player at the top, then the channel strip, then the chat down to the
        # bottom of the screen, its input last; the page itself does not scroll.
        player = box(page, "#player")
        assert player["y"] >= 0 and player["y"] + player["height"] <= 844
        assert player["width"] == pytest.approx(390, abs=1)
        assert player["height"] == pytest.approx(390 * 9 / 16, abs=2)
        field = box(page, "[data-chat-input]")
        assert player["y"] + player["height"] < field["y"] and field["y"] + field["height"] <= 844
        assert page.evaluate("document.scrollingElement.scrollHeight") <= 844
        assert page.get_by_role("button", name="Follow nightowl").is_visible()
        assert page.get_by_role("button", name="Share").is_visible()
        assert page.locator("[data-theatre]").is_hidden()  # a wide-screen thing
        # The chat scrolls inside itself and opens at its newest line.
        assert page.evaluate("(() => { const l = document.querySelector('[data-chat-list]');"
                             " return l.scrollHeight > l.clientHeight + 100; })()")
        assert at_newest_line(page)
        shoot(page, screenshot_dir / f"watch-phone-{scheme}.png")

        # Focus the chat box: nothing moves the player away.
        chat_input.click()
        assert page.evaluate("document.activeElement.id") == "chat-input"
        player = box(page, "#player")
        assert player["y"] >= 0 and player["y"] + player["height"] <= 844
        assert page.evaluate("window.scrollY") == 0

        # The on-screen keyboard: the viewport shrinks to 450 px (what resizes-content does). The
        # player stays whole at the top, the input sits just above the keyboard, chat in between.
        page.set_viewport_size({"width": 390, "height": 450})
        wait_for(lambda: box(page, "[data-chat-input]")["y"] + box(page, "[data-chat-input]")["height"] <= 450,
                 5, "the input above the keyboard")
        player = box(page, "#player")
        assert player["y"] >= 0 and player["y"] + player["height"] <= 450
        assert player["height"] == pytest.approx(390 * 9 / 16, abs=2)
        field = box(page, "[data-chat-input]")
        assert field["y"] >= player["y"] + player["height"] and field["y"] + field["height"] <= 450
        assert page.evaluate("document.activeElement.id") == "chat-input"
        listbox = box(page, "[data-chat-list]")
        assert listbox["height"] >= 80  # room to read the chat while typing
        assert at_newest_line(page)  # still showing the newest line
        chat_input.fill("gg, lovely set")
        shoot(page, screenshot_dir / f"watch-phone-keyboard-{scheme}.png")

        # Keyboard closed again; About swaps the chat for the channel's details, and back.
        page.set_viewport_size({"width": 390, "height": 844})
        about = page.get_by_role("button", name="About")
        about.click()
        assert about.get_attribute("aria-expanded") == "true"
        assert page.get_by_role("link", name="Videos").is_visible()
        assert page.locator("#chat").is_hidden()
        shoot(page, screenshot_dir / f"watch-phone-about-{scheme}.png")
        about.click()
        assert page.locator("#chat").is_visible() and page.get_by_role("link", name="Videos").is_hidden()
        assert chat_input.input_value() == "gg, lovely set"  # nothing typed was lost
        assert not problems, problems
    finally:
        context.close()


def theatre_on(page) -> bool:
    return page.evaluate("document.body.classList.contains('is-theatre')")


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_theatre_mode_on_desktop_is_remembered(browser, live_channel, screenshot_dir, scheme):
    base, slug = live_channel
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme, base_url=base)
    context.add_cookies([{"name": "theme", "value": scheme, "url": base}])
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        log_in(page, "phonefan")
        page.goto(f"/c/{slug}")
        until_true(page, PLAYING, 20)
        normal = box(page, "#player")
        assert normal["y"] > 0 and normal["width"] < 1280 - 340 - 40  # inside the page, under the header
        assert page.locator(".site-header").is_visible()

        button = page.get_by_role("button", name="Theatre mode")
        button.click()
        assert theatre_on(page) and button.get_attribute("aria-pressed") == "true"
        player, chat = box(page, "#player"), box(page, "#chat")
        assert player["x"] == 0 and player["y"] == 0 and player["height"] == pytest.approx(900, abs=1)
        assert player["width"] + chat["width"] == pytest.approx(1280, abs=1)
        assert chat["x"] == pytest.approx(player["width"], abs=1) and chat["y"] == 0
        assert chat["height"] == pytest.approx(900, abs=1)
        assert page.locator(".site-header").is_hidden()
        shoot(page, screenshot_dir / f"watch-theatre-1280-{scheme}.png")

        page.reload()  # remembered in this browser
        until_true(page, PLAYING, 20)
        assert theatre_on(page) and box(page, "#player")["y"] == 0

        page.keyboard.press("Escape")
        assert not theatre_on(page)
        assert box(page, "#player") == pytest.approx(normal, abs=1)
        shoot(page, screenshot_dir / f"watch-desktop-1280-{scheme}.png")

        # `t` toggles it, except while typing (a chat message with a "t" in it).
        page.locator("[data-chat-input]").fill("")
        page.locator("[data-chat-input]").press_sequentially("that")
        assert not theatre_on(page)
        page.locator("#player").click(position={"x": 20, "y": 80})  # focus leaves the chat box
        page.keyboard.press("t")
        assert theatre_on(page)
        page.keyboard.press("t")
        assert not theatre_on(page)
        page.reload()
        until_true(page, PLAYING, 20)
        assert not theatre_on(page)
        assert not problems, problems
    finally:
        context.close()


def test_the_embedded_player_has_no_theatre_button(browser, live_channel):
    base, slug = live_channel
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=base)
    page = context.new_page()
    try:
        page.goto(f"/embed/{slug}")
        until_true(page, PLAYING, 20)
        assert page.locator("[data-theatre]").count() == 0
        page.keyboard.press("t")
        assert not theatre_on(page)
    finally:
        context.close()
