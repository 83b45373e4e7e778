"""Quiet moments as people meet them: a fresh directory, a category with nobody live, and a member's
home page on a phone, in both themes."""
import pytest

from app.extensions import db
from app.models import Follow, utcnow
from tests.browser.conftest import log_in, open_page
from tests.directory.conftest import make_streamer
from tests.factories import make_category

pytestmark = pytest.mark.browser


def shoot(page, path):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True, caret="initial")


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_fresh_directory_says_only_what_is_there(browser, live_server, screenshot_dir, width, scheme):
    """Runs first in this module, while the site is empty."""
    base_url, _ = live_server
    context, page, problems = open_page(browser, base_url, width, scheme)
    try:
        page.goto("/directory")
        assert page.get_by_text("Check back soon.").is_visible()
        assert page.get_by_text("No categories yet.").is_visible()
        assert page.get_by_text("below").count() == 0
        shoot(page, screenshot_dir / f"directory-fresh-{width}-{scheme}.png")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_quiet_pages_lead_somewhere(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    suffix = f"{width}{scheme[0]}"
    context, page, problems = open_page(browser, base_url, width, scheme)
    try:
        with app.app_context():
            music = make_category(f"Music {suffix}")
            fan = make_streamer(f"fan{suffix}")
            for n, title in enumerate(["Synth jam", "Piano practice", "Never live yet"]):
                owner = make_streamer(f"m{n}{suffix}", title=f"{title} {suffix}", category=music)
                if n < 2:
                    owner.channel.last_live_at = utcnow()
                db.session.add(Follow(follower_id=fan.id, channel_id=owner.channel.id))
            db.session.commit()
            followed_live = make_streamer(f"live{suffix}", title=f"On air {suffix}", live=True, watching=2)
            db.session.add(Follow(follower_id=fan.id, channel_id=followed_live.channel.id))
            db.session.commit()
            category_path, fan_name = f"/directory/category/{music.slug}", fan.username

        page.goto(category_path)
        assert page.get_by_role("heading", name=f"No one is streaming Music {suffix} right now").is_visible()
        assert page.get_by_role("heading", name=f"Channels in Music {suffix}").is_visible()
        assert page.locator("[aria-labelledby='channels-heading'] .channel-card").count() == 3
        assert page.get_by_text("Follow a few channels").count() == 0
        assert page.get_by_role("link", name="Create an account").is_visible()
        shoot(page, screenshot_dir / f"category-quiet-{width}-{scheme}.png")

        # A member's home page opens on the live channels they follow, not on the pitch.
        log_in(page, fan_name)
        follows = page.get_by_role("heading", name="Live channels you follow")
        assert follows.bounding_box()["y"] < 200
        assert page.locator(".hero").count() == 0
        first_card = page.locator("[aria-labelledby='followed-heading'] .channel-card").first
        assert first_card.bounding_box()["y"] < 844 - 100  # on the first screen, even on a phone
        shoot(page, screenshot_dir / f"home-member-{width}-{scheme}.png")
        assert not problems, problems
    finally:
        context.close()
