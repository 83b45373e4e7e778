"""The directory, a category page and search, in both themes, on a phone and a laptop."""
import pytest

from app.extensions import db
from app.models import utcnow
from app.streams import viewers
from tests.browser.conftest import open_page
from tests.directory.conftest import make_streamer
from tests.factories import make_category

pytestmark = pytest.mark.browser

CHANNELS = [
    # username, title, category, tags, viewers (None: offline, recently live)
    ("nightowl", "Late-night synth jams", "Music", ["synthwave", "chill"], 41),
    ("pixelpaula", "Pixel art: drawing a whole tileset", "Art", ["pixel-art", "cozy"], 17),
    ("speedy_gonzo", "Any% practice, new route", "Speedrunning", ["any-percent"], 128),
    ("chefkai", "Sunday ramen from scratch", "Cooking", ["ramen", "food"], 9),
    ("devdan", "Building a roguelike in Rust", "Software & Game Dev", ["rust", "gamedev"], 63),
    ("synthia", "Modular patching for beginners", "Music", ["synthwave", "modular"], 5),
    ("retrorick", "SNES longplay: the whole thing", "Retro Games", ["snes", "chill"], 2),
    ("lofilena", "Lo-fi beats to code to", "Music", ["lofi", "chill"], None),
    ("bakerben", "Sourdough Saturday", "Cooking", ["bread"], None),
]


@pytest.fixture(scope="module")
def seeded(live_server):
    base_url, app = live_server
    with app.app_context():
        categories = {name: make_category(name) for name in
                      ("Music", "Art", "Speedrunning", "Cooking", "Software & Game Dev", "Retro Games",
                       "Just Chatting", "Science & Tech")}
        for username, title, category, tags, watching in CHANNELS:
            user = make_streamer(username, title=title, category=categories[category], tags=tags,
                                 live=watching is not None)
            if watching is None:
                user.channel.last_live_at = utcnow()
                db.session.commit()
    return base_url, app


def beat(app):
    """Viewer heartbeats, as players send them (they expire within a minute)."""
    with app.app_context():
        from app.models import Channel

        for username, *_, watching in CHANNELS:
            if watching:
                channel_id = db.session.scalar(db.select(Channel.id).where(Channel.slug == username.lower()))
                for n in range(watching):
                    viewers.heartbeat(channel_id, f"v{n}", None)


def shoot(page, path, full_page=True):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=full_page, caret="initial")


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_directory_category_and_search(browser, seeded, screenshot_dir, width, scheme):
    base_url, app = seeded
    beat(app)
    context, page, problems = open_page(browser, base_url, width, scheme)

    def no_overflow():
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0

    page.goto("/directory")
    cards = page.locator(".live-grid .channel-card")
    assert cards.count() == 7
    assert cards.first.get_attribute("href") == "/c/speedy_gonzo"  # most viewers first
    no_overflow()
    shoot(page, screenshot_dir / f"directory-index-{width}-{scheme}.png")

    page.locator("a.category-card[href=\"/directory/category/music\"]").click()
    page.wait_for_url("**/directory/category/music")
    page.get_by_role("heading", name="Music", level=1).wait_for()
    assert page.locator(".live-grid .channel-card").count() == 2
    no_overflow()
    shoot(page, screenshot_dir / f"directory-category-{width}-{scheme}.png")

    page.goto("/search?q=synth")
    page.get_by_role("heading", name="Channels").wait_for()
    no_overflow()
    shoot(page, screenshot_dir / f"search-page-{width}-{scheme}.png")

    # Search as you type in the nav box: a dropdown of top results, walked with the arrow keys.
    page.goto("/directory")
    box = page.locator("#nav-q")
    box.click()
    box.press_sequentially("nigth", delay=40)  # a typo still finds nightowl
    suggestion = page.locator("#search-suggest .suggest-list a").first
    suggestion.wait_for()
    assert "nightowl" in suggestion.get_attribute("href")
    box.press("ArrowDown")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/c/nightowl"
    no_overflow()
    shoot(page, screenshot_dir / f"search-suggest-{width}-{scheme}.png", full_page=False)
    page.keyboard.press("Escape")
    assert page.locator("#search-suggest .suggest-panel").count() == 0
    context.close()
    assert not problems, problems


def test_escape_keeps_the_suggestions_closed_when_an_answer_comes_late(browser, seeded):
    """On a slow network the last keystroke's suggestions can arrive after Escape closed the
    dropdown: they must not open it again (a busy CI box showed it). Typing opens it again."""
    base_url, _ = seeded
    context, page, problems = open_page(browser, base_url, 1280, "light")
    held = []
    try:
        page.goto("/directory")
        box = page.locator("#nav-q")
        box.click()
        box.press_sequentially("night", delay=40)
        page.locator("#search-suggest .suggest-list a").first.wait_for()
        # The next answer is held until after Escape.
        page.route("**/search?q=nighto", lambda route: held.append(route))
        box.press_sequentially("o", delay=40)
        page.wait_for_timeout(600)  # past the 250 ms debounce: the request is out
        assert held, "the suggestion request was not sent"
        box.press("Escape")
        assert page.locator("#search-suggest .suggest-panel").count() == 0
        for route in held:
            route.continue_()
        page.wait_for_timeout(800)
        assert page.locator("#search-suggest .suggest-panel").count() == 0
        box.press_sequentially("w", delay=40)  # typing again opens them
        page.locator("#search-suggest .suggest-list a").first.wait_for()
        assert problems == []
    finally:
        context.close()

