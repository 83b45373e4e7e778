"""A person signs up, gets a stream key, logs out and in, and switches to dark mode."""
import re

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "violet sunrise 42"


def new_page(browser, base_url, width, color_scheme="light"):
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=color_scheme,
                                  base_url=base_url)
    page = context.new_page()
    problems = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return context, page, problems


@pytest.mark.parametrize("width", [390, 1280])
def test_signup_key_login_and_dark_mode(browser, live_server, screenshot_dir, width):
    base_url, _ = live_server
    username = f"viewer{width}"
    context, page, problems = new_page(browser, base_url, width)

    page.goto("/")
    page.screenshot(path=screenshot_dir / f"home-{width}-light.png", full_page=True)
    assert page.locator("html").get_attribute("data-theme") == "auto"

    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill("password123")
    page.get_by_label("Confirm password").fill("password123")
    page.get_by_label("Date of birth").fill("1995-06-15")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("commonly used passwords").wait_for()
    page.screenshot(path=screenshot_dir / f"signup-error-{width}-light.png", full_page=True)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.get_by_role("heading", name="Creator dashboard").is_visible()

    # The key appears once, through htmx, with a copy button.
    page.get_by_role("button", name="Create stream key").click()
    key_box = page.locator("#stream-key-value")
    key_box.wait_for()
    key = key_box.input_value()
    assert key.startswith("live_") and len(key) > 40
    page.screenshot(path=screenshot_dir / f"dashboard-key-{width}-light.png", full_page=True)
    page.reload()
    assert key not in page.content()
    assert page.get_by_role("button", name="Rotate stream key").is_visible()

    # Inline edit of the stream title with htmx.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Stream title").fill("First stream!")
    page.get_by_role("button", name="Save").click()
    page.locator("#channel-info").get_by_text("First stream!").wait_for()

    # Log out through the account menu, then back in.
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("link", name="Log in").is_visible()
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("link", name="Dashboard", exact=True).is_visible()

    # Dark mode: the toggle flips at once and the choice survives a reload (server-rendered).
    toggle = page.locator("[data-theme-toggle]")
    toggle.click()
    assert page.locator("html").get_attribute("data-theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.reload()
    assert page.locator("html").get_attribute("data-theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
    page.screenshot(path=screenshot_dir / f"home-{width}-dark.png", full_page=True)
    page.goto("/dashboard")
    page.screenshot(path=screenshot_dir / f"dashboard-{width}-dark.png", full_page=True)
    toggle = page.locator("[data-theme-toggle]")
    toggle.click()
    assert page.locator("html").get_attribute("data-theme") == "light"

    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not problems, problems
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_system_dark_preference_is_followed(browser, live_server, screenshot_dir, width):
    base_url, _ = live_server
    context, page, problems = new_page(browser, base_url, width, color_scheme="dark")
    page.goto("/signup")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.screenshot(path=screenshot_dir / f"signup-{width}-dark.png", full_page=True)
    response = page.goto("/nowhere")
    assert response.status == 404
    page.screenshot(path=screenshot_dir / f"404-{width}-dark.png", full_page=True)
    problems.remove("Failed to load resource: the server responded with a status of 404 (NOT FOUND)")
    context.close()
    context, page, _ = new_page(browser, base_url, width, color_scheme="light")
    page.goto("/signup")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != dark
    context.close()
    assert not problems, problems


def test_no_horizontal_scroll_at_360px(browser, live_server):
    base_url, _ = live_server
    context, page, _ = new_page(browser, base_url, 360)
    for path in ("/", "/signup", "/login", "/directory", "/search?q=a"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, path
    context.close()


def test_every_form_control_has_an_accessible_name(browser, live_server):
    base_url, _ = live_server
    context, page, _ = new_page(browser, base_url, 1280)
    for path in ("/", "/signup", "/login", "/search"):
        page.goto(path)
        unnamed = page.evaluate("""() => [...document.querySelectorAll(
              'input:not([type=hidden]), select, textarea, button, a[href]')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim() && !el.getAttribute('title'))
            .map(el => el.outerHTML.slice(0, 80))""")
        assert not unnamed, (path, unnamed)
    context.close()
