"""Contrast and keyboard basics measured in Chromium: coin badges and the unread count at WCAG AA in
both themes, the skip link landing focus in the content, and a profile's name clear of its banner."""
import pytest

from app.extensions import db
from app.models import Notification
from app.profiles import donations
from tests.browser.conftest import log_in, open_page
from tests.factories import make_live, make_user

pytestmark = pytest.mark.browser

ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
# Every coin the stylesheet colours, and a token it does not know (the default colour).
COINS = ["btc", "eth", "erc20", "ltc", "doge", "sol", "xmr", "usdt", "usdc", "dai", "shib"]

# WCAG 2.x contrast of an element's text colour on its own (opaque) background colour.
CONTRAST = """(element) => {
  const style = getComputedStyle(element);
  const channels = (colour) => colour.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map((c) => {
    c /= 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const fg = channels(style.color), bg = channels(style.backgroundColor);
  if (style.backgroundImage !== "none" || (bg.length === 4 && bg[3] < 1)) return -1;  // not one colour
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture(scope="module")
def people(live_server):
    _, app = live_server
    with app.app_context():
        tipper = make_user("tipjar")
        tipper.profile.display_name = "Tip Jar, wraps to two lines"
        db.session.commit()
        donations.add_address(tipper, "ETH", ETH)
        reader = make_user("reader")
        streamer = make_user("loudstream")
        session = make_live(streamer)
        db.session.add(Notification(user_id=reader.id, channel_id=streamer.channel.id, session_id=session.id))
        db.session.commit()
    return "tipjar", "reader"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_coin_badges_meet_aa_contrast(browser, live_server, people, screenshot_dir, scheme):
    base, _ = live_server
    context, page, problems = open_page(browser, base, 390, scheme)
    context.add_cookies([{"name": "theme", "value": scheme, "url": base}])
    try:
        page.goto("/u/tipjar")
        badge = page.locator(".donation-card .coin-badge")
        assert badge.inner_text() == "ETH"
        assert badge.evaluate(CONTRAST) >= 4.5
        # Every other coin's colours from the same stylesheet, on this page.
        ratios = {coin: measure_coin(page, coin) for coin in COINS}
        assert all(ratio >= 4.5 for ratio in ratios.values()), ratios
        assert not problems, problems
    finally:
        context.close()


def measure_coin(page, coin: str) -> float:
    """Add a badge for `coin` beside the real one and measure it (DOM calls only: the CSP forbids eval)."""
    page.evaluate("""(coin) => {
      const badge = document.createElement("span");
      badge.className = "coin-badge coin-" + coin;
      badge.id = "probe-" + coin;
      badge.textContent = coin.toUpperCase();
      document.querySelector(".donation-card-head").append(badge);
    }""", coin)
    return page.locator(f"#probe-{coin}").evaluate(CONTRAST)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_unread_count_meets_aa_contrast(browser, live_server, people, screenshot_dir, scheme):
    base, _ = live_server
    context, page, problems = open_page(browser, base, 390, scheme)
    context.add_cookies([{"name": "theme", "value": scheme, "url": base}])
    try:
        log_in(page, "reader")
        count = page.locator("[data-unread-badge]")
        assert count.inner_text() == "1"
        assert count.evaluate(CONTRAST) >= 4.5
        live = page.locator(".badge-live").first  # the same red behind "Live" on the cards
        assert live.evaluate(CONTRAST) >= 4.5
        page.screenshot(path=screenshot_dir / f"unread-badge-390-{scheme}.png",
                        clip={"x": 0, "y": 0, "width": 390, "height": 420})
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/directory", "/u/tipjar"])
def test_skip_link_moves_focus_into_the_content(browser, live_server, people, path):
    base, _ = live_server
    context, page, problems = open_page(browser, base, 1280, "light")
    try:
        page.goto(path)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")  # the next stop is inside the content, not back in the header
        assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1280])
def test_profile_name_sits_below_the_banner(browser, live_server, people, screenshot_dir, width, scheme):
    base, _ = live_server
    context, page, problems = open_page(browser, base, width, scheme)
    context.add_cookies([{"name": "theme", "value": scheme, "url": base}])
    try:
        page.goto("/u/tipjar")
        banner = page.locator(".profile-banner").bounding_box()
        name = page.locator("#profile-name").bounding_box()
        if width < 600:  # it wraps: the case that used to climb onto the banner
            assert page.locator("#profile-name").evaluate(
                "(h) => h.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(h).lineHeight)")
        assert name["y"] >= banner["y"] + banner["height"]
        page.screenshot(path=screenshot_dir / f"profile-name-{width}-{scheme}.png",
                        clip={"x": 0, "y": 0, "width": width, "height": 520})
        assert not problems, problems
    finally:
        context.close()
