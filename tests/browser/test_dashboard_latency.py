"""A creator switches their channel to normal latency from the dashboard, in both themes."""
import re

import pytest

from tests.factories import PASSWORD, make_user

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
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, base_url=base_url)
    page = context.new_page()
    problems = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Let the home page finish loading: leaving mid-download drops a static file the dev server is sending.
    page.wait_for_url(re.compile(r"/$"))
    page.wait_for_load_state()
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
