"""Public pages as a visitor sees them, at phone and desktop widths, dark and light."""
import pytest

from app.auth import services as accounts
from app.extensions import db
from app.seed import ensure_categories

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded(live_server):
    _, app = live_server
    with app.app_context():
        categories = ensure_categories()
        user = accounts.create_account("pixelpaula", "paula@example.com", "violet sunrise 42", None,
                                       check_age=False)
        user.channel.title = "Pixel art: drawing a whole tileset <live>"
        user.channel.category = categories["art"]
        user.channel.tags = ["pixel-art", "cozy"]
        user.profile.bio = "Pixel artist.\nI draw sprites for indie games <b>and</b> stream the process."
        db.session.commit()
    return "pixelpaula"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1280])
def test_public_pages(browser, live_server, seeded, screenshot_dir, width, scheme):
    base_url, _ = live_server
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                  base_url=base_url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto("/c/pixelpaula")
    assert page.get_by_text("pixelpaula is offline").is_visible()
    assert page.get_by_role("heading", name="Pixel art: drawing a whole tileset <live>").is_visible()
    page.screenshot(path=screenshot_dir / f"channel-{width}-{scheme}.png", full_page=True)

    page.goto("/u/pixelpaula")
    assert page.get_by_text("<b>and</b>").is_visible()  # shown as text, never as markup
    page.screenshot(path=screenshot_dir / f"profile-{width}-{scheme}.png", full_page=True)

    page.goto("/directory")
    assert page.get_by_role("link", name="Retro Games").is_visible()
    page.screenshot(path=screenshot_dir / f"directory-{width}-{scheme}.png", full_page=True)

    # Search as you type: htmx swaps the results and keeps the URL shareable.
    page.goto("/search")
    page.locator("#q").press_sequentially("pixel", delay=40)
    page.locator("#search-results").get_by_text("@pixelpaula").wait_for()
    assert "q=pixel" in page.url
    page.screenshot(path=screenshot_dir / f"search-{width}-{scheme}.png", full_page=True)

    assert not errors, errors
    context.close()
