"""On a phone and a desktop, light and dark: "Forgot your password?" from the login page, the
reset form a mailed link opens, and deleting the account from Settings → Account."""
import re

import pytest

from app.auth import tokens
from tests.browser.conftest import log_in, open_page
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser

SIZES = [(390, 844), (1280, 900)]
CASES = [(width, height, scheme) for width, height in SIZES for scheme in ("light", "dark")]


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width,height,scheme", CASES)
def test_forgot_password_from_the_login_page(browser, live_server, screenshot_dir, width, height, scheme):
    base_url, app = live_server
    name = f"forgot{width}{scheme}"
    with app.app_context():
        user = make_user(name)
        token = tokens.reset_token(user)
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.set_viewport_size({"width": width, "height": height})

    page.goto("/login")
    page.screenshot(path=screenshot_dir / f"login-forgot-link-{width}-{scheme}.png", full_page=True)
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(re.compile(r"/forgot-password$"))
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Send me a link").click()
    page.get_by_text("doesn't look like an email address").wait_for()
    assert fits_the_width(page)
    page.screenshot(path=screenshot_dir / f"forgot-password-error-{width}-{scheme}.png", full_page=True)

    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_role("button", name="Send me a link").click()
    page.wait_for_url(re.compile(r"/forgot-password/sent$"))
    assert page.get_by_role("heading", name="Check your email").is_visible()
    page.screenshot(path=screenshot_dir / f"forgot-password-sent-{width}-{scheme}.png", full_page=True)

    # The mailed link (made here as the worker makes it) opens the form under a token-free URL.
    page.goto(f"/reset-password/{token}")
    page.wait_for_url(re.compile(r"/reset-password$"))
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Confirm new password").fill("short")
    page.get_by_role("button", name="Save new password").click()
    page.get_by_text("Use at least 10 characters.").wait_for()
    assert fits_the_width(page)
    page.screenshot(path=screenshot_dir / f"reset-password-{width}-{scheme}.png", full_page=True)
    page.get_by_label("New password", exact=True).fill("a fresh passphrase 9")
    page.get_by_label("Confirm new password").fill("a fresh passphrase 9")
    page.get_by_role("button", name="Save new password").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.get_by_text("Your password has been changed").wait_for()

    # Following the mailed link proved the address: the account page says so.
    log_in(page, name, "a fresh passphrase 9")
    page.goto("/settings/account")
    assert page.locator("#email-status").get_by_text("Verified", exact=True).is_visible()
    page.screenshot(path=screenshot_dir / f"settings-account-verified-{width}-{scheme}.png")
    page.context.clear_cookies()

    page.goto(f"/reset-password/{token}")  # used once: refused with a way on
    assert page.get_by_role("heading", name="This link has been used").is_visible()
    page.screenshot(path=screenshot_dir / f"reset-link-used-{width}-{scheme}.png", full_page=True)
    assert all("status of 400" in m for m in problems), problems  # only the refused link
    context.close()


@pytest.mark.parametrize("width,height,scheme", CASES)
def test_delete_my_account(browser, live_server, screenshot_dir, width, height, scheme):
    base_url, app = live_server
    name = f"leaver{width}{scheme}"
    with app.app_context():
        make_user(name)
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, name)

    page.goto("/settings/account")
    assert page.get_by_text("Not verified").is_visible()
    zone = page.locator("#delete-account")
    zone.get_by_label("Your password").fill("not the password")
    zone.get_by_role("button", name="Delete my account").click()
    page.get_by_text("That isn't your current password.").wait_for()
    assert fits_the_width(page)
    page.locator("#delete-account").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / f"delete-account-error-{width}-{scheme}.png")
    page.screenshot(path=screenshot_dir / f"settings-account-{width}-{scheme}.png", full_page=True)

    page.locator("#delete-account").get_by_label("Your password").fill(PASSWORD)
    page.locator("#delete-account").get_by_role("button", name="Delete my account").click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_text("Your account has been deleted.").wait_for()
    page.screenshot(path=screenshot_dir / f"delete-account-done-{width}-{scheme}.png")
    assert page.get_by_role("link", name="Log in").first.is_visible()
    assert page.goto(f"/u/{name}").status == 404
    assert all("status of 404" in m for m in problems), problems
    context.close()
