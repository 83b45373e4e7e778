"""Limits and name rules as a person meets them, on a phone and a desktop, dark and light: a
limited signup or login keeps what was typed and says when to retry, a lookalike display name
gets a field error, and chat shows @username beside a display name that differs from it."""
import re

import pytest
from playwright.sync_api import expect

from app.chat import services as chat
from app.config import Config
from app.extensions import db
from app.models import Channel, User
from app.profiles import services as profiles
from tests.browser.conftest import log_in, open_page, serve
from tests.conftest import Actions, base_config
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser

SIZES = [(390, 844), (1280, 900)]


@pytest.fixture(scope="module")
def site(sqlite_url):
    from app import create_app

    app = create_app({**base_config(sqlite_url), "SIGNUP_RATE_LIMIT": "1 per hour",
                      "LOGIN_RATE_LIMIT": "2 per minute", "STAFF_WORDS": Config.STAFF_WORDS})
    yield from serve(app)


@pytest.fixture(scope="module")
def people(site):
    _, app = site
    with app.app_context():
        make_user("nightcaster")
        make_user("alice")
        bob = make_user("bob")
        profiles.update_details(bob, "Bobby Tables", "")
    return app


def shot(page, screenshot_dir, name: str, width: int, scheme: str, full_page: bool = True) -> None:
    page.screenshot(path=str(screenshot_dir / f"{name}-{width}-{scheme}.png"), full_page=full_page)


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_limited_signup_keeps_what_was_typed(site, people, browser, screenshot_dir, width, height, scheme):
    base_url, app = site
    from app.extensions import limiter

    with app.app_context():
        limiter.reset()
        # Someone else at the same address (127.0.0.1) made the hour's one account.
        assert Actions(app.test_client()).signup(f"first{width}{scheme}").status_code == 303
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.set_viewport_size({"width": width, "height": height})
    try:
        page.goto("/signup")
        page.get_by_label("Username").fill("meetup_guest")
        page.get_by_label("Email").fill("guest@example.org")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Confirm password").fill(PASSWORD)
        page.get_by_label("Date of birth").fill("1992-05-06")
        page.get_by_role("button", name="Sign up").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("What you typed is kept below")
        expect(alert).to_contain_text(re.compile(r"Try again in \d+ minutes\."))
        expect(page.get_by_label("Username")).to_have_value("meetup_guest")
        expect(page.get_by_label("Email")).to_have_value("guest@example.org")
        expect(page.get_by_label("Date of birth")).to_have_value("1992-05-06")
        expect(page.get_by_label("Password", exact=True)).to_have_value("")
        shot(page, screenshot_dir, "signup-limited", width, scheme)
        # The browser logs the 429 itself as a failed load; nothing else may go wrong.
        assert [p for p in problems if "429" not in p] == []
    finally:
        context.close()


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_limited_login_keeps_the_name(site, people, browser, screenshot_dir, width, height, scheme):
    base_url, app = site
    from app.extensions import limiter

    with app.app_context():
        limiter.reset()
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.set_viewport_size({"width": width, "height": height})
    try:
        page.goto("/login")
        for _ in range(3):
            page.get_by_label("Username or email").fill("alice")
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state()
        expect(page.get_by_role("alert")).to_contain_text(
            re.compile(r"Too many failed logins\. Try again in \d+ seconds?\."))
        expect(page.get_by_label("Username or email")).to_have_value("alice")
        shot(page, screenshot_dir, "login-limited", width, scheme)
        assert [p for p in problems if "429" not in p] == []
    finally:
        context.close()


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_lookalike_display_name_gets_a_field_error(site, people, browser, screenshot_dir, width, height,
                                                      scheme):
    base_url, app = site
    from app.extensions import limiter

    with app.app_context():
        limiter.reset()
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.set_viewport_size({"width": width, "height": height})
    try:
        log_in(page, "bob")
        page.goto("/settings/profile")
        name = page.get_by_label("Display name")
        name.fill("\u0430lice")  # Cyrillic а
        page.locator("#profile-details").get_by_role("button", name=re.compile("Save")).click()
        error = page.locator("#display_name-error")
        expect(error).to_contain_text("That name looks too much like @alice")
        expect(name).to_have_attribute("aria-invalid", "true")
        name.scroll_into_view_if_needed()
        shot(page, screenshot_dir, "display-name-lookalike", width, scheme, full_page=False)
        with app.app_context():
            assert db.session.query(User).filter_by(username="bob").one().display_name == "Bobby Tables"
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chat_shows_the_username_beside_a_display_name(site, people, browser, screenshot_dir, width, height,
                                                       scheme):
    base_url, app = site
    with app.app_context(), app.test_request_context():
        channel = db.session.query(Channel).filter_by(slug="nightcaster").one()
        bob = db.session.query(User).filter_by(username="bob").one()
        chat.send_message(channel, bob, f"gg, from a {width} px {scheme} screen")
    context, page, problems = open_page(browser, base_url, width, scheme)
    page.set_viewport_size({"width": width, "height": height})
    try:
        page.goto("/c/nightcaster")
        line = page.locator(".chat-line", has_text=f"gg, from a {width} px {scheme} screen")
        expect(line.locator(".chat-name")).to_have_text("Bobby Tables")
        expect(line.locator(".chat-handle")).to_have_text("@bob")
        expect(line.locator(".chat-handle")).to_be_visible()
        shot(page, screenshot_dir, "chat-handle", width, scheme)
        assert problems == []
    finally:
        context.close()
