"""A creator switches their channel to normal latency from the dashboard, in both themes."""

import pytest

from tests.browser.conftest import log_in, open_page
from tests.factories import make_user

pytestmark = pytest.mark.browser


def shoot(page, path):
    # From the top, so the sticky header sits at the top of a full-page picture; caret="initial"
    # because Playwright hides the caret with an inline style, which the CSP refuses and logs.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True, caret="initial")


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pick_latency_on_the_dashboard(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    username = f"latency{width}{scheme}"
    with app.app_context():
        make_user(username)
    context, page, problems = open_page(browser, base_url, width, scheme)

    log_in(page, username)
    page.goto("/dashboard")
    info = page.locator("#channel-info")
    assert info.locator("dd", has_text="Low").is_visible()

    info.get_by_role("link", name="Edit").click()
    page.get_by_role("group", name="Latency").wait_for()
    assert page.get_by_role("radio", name="Low latency").is_checked()
    page.get_by_text("Normal latency", exact=True).click()  # the whole card is the label
    assert page.get_by_role("radio", name="Normal latency").is_checked()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    shoot(page, screenshot_dir / f"dashboard-latency-edit-{width}-{scheme}.png")

    # A forged value comes back with the reason under the choices, and the other fields kept.
    page.get_by_label("Stream title").fill("Kept on error")
    page.evaluate("document.querySelector('input[name=latency_mode][value=normal]').value = 'fast'")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Pick low or normal latency.").wait_for()
    assert page.get_by_label("Stream title").input_value() == "Kept on error"
    shoot(page, screenshot_dir / f"dashboard-latency-error-{width}-{scheme}.png")

    page.get_by_text("Normal latency", exact=True).click()
    page.get_by_role("button", name="Save").click()
    info.locator("dt", has_text="Latency").wait_for()
    assert info.locator("dd", has_text="Normal").is_visible()
    assert info.locator("dd", has_text="Kept on error").is_visible()
    shoot(page, screenshot_dir / f"dashboard-latency-saved-{width}-{scheme}.png")
    context.close()
    assert not problems, problems
