"""The legal pages in a browser (issue 17 part 8): readable at phone and desktop widths, dark and
light, linked from every page's footer; an admin publishes a new version and a member who was
already here dismisses the notice of it with one click."""
from __future__ import annotations

import pytest

from app.auth import services as accounts
from tests.browser.conftest import log_in, open_page
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def people(live_server):
    _, app = live_server
    with app.app_context():
        accounts.add_account("lexadmin", "lex@example.com", PASSWORD, admin=True)
        accounts.add_account("member", "member@example.com", PASSWORD)
    return app


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_pages_read_well_at_every_width(browser, live_server, people, screenshot_dir, width, scheme):
    base_url, _ = live_server
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.goto("/")
    page.locator(".site-footer").get_by_role("link", name="Privacy").click()
    page.wait_for_url("**/legal/privacy")
    assert page.get_by_role("heading", level=1, name="Privacy Policy").is_visible()
    # No sideways scrolling on a phone: the text wraps inside the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"legal-privacy-{width}-{scheme}.png", full_page=True)
    page.goto("/legal/dmca")
    assert page.get_by_text("no designated copyright agent yet").is_visible()
    page.screenshot(path=screenshot_dir / f"legal-dmca-{width}-{scheme}.png", full_page=True)
    assert not problems, problems
    context.close()


def test_an_admin_publishes_and_a_member_dismisses_the_notice(browser, live_server, people, screenshot_dir):
    base_url, _ = live_server
    admin_context, admin, problems = open_page(browser, base_url, 1280, "light")
    log_in(admin, "lexadmin")
    admin.goto("/legal/terms")
    admin.get_by_role("link", name="Publish a new version").click()
    assert "You must be at least 13 years old" in admin.locator("#body").input_value()
    admin.fill("#summary", "Streams of other people's concerts are not allowed.")
    admin.fill("#body", "## Music\n\nNo streams of other people's concerts.")
    admin.get_by_role("button", name="Publish").click()
    admin.wait_for_url("**/legal/terms/versions/1")
    assert admin.get_by_role("heading", name="Music").is_visible()
    admin.screenshot(path=screenshot_dir / "legal-published-1280-light.png", full_page=True)
    admin_context.close()

    context, page, member_problems = open_page(browser, base_url, 390, "dark")
    log_in(page, "member")
    notice = page.locator("#legal-notice")
    assert notice.get_by_text("Streams of other people's concerts are not allowed.").is_visible()
    page.screenshot(path=screenshot_dir / "legal-notice-390-dark.png", full_page=False)
    notice.get_by_role("button", name="Got it").click()
    notice.wait_for(state="detached")
    page.reload()
    assert page.locator("#legal-notice").count() == 0
    assert not problems and not member_problems, problems + member_problems
    context.close()
