"""A creator lists crypto addresses in settings and checks the preview visitors see, in both themes."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, open_page
from tests.factories import make_user

pytestmark = pytest.mark.browser

BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"


def shoot(page, path):
    # caret="initial": Playwright hides the caret with an inline style, which the CSP refuses and logs.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True, caret="initial")


def add(page, currency, address, note="", token=""):
    form = page.locator("form.donation-form").last
    form.get_by_label("Currency").select_option(currency)
    if token:
        form.get_by_label("Token", exact=True).fill(token)
    form.get_by_label("Address").fill(address)
    form.get_by_label("Note (optional)").fill(note)
    count = page.locator(".donation-card").count()
    form.get_by_role("button", name="Add address").click()
    expect(page.locator(".donation-card")).to_have_count(count + 1)


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_add_addresses_and_preview(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    username = f"tips{width}{scheme}"
    with app.app_context():
        make_user(username)
    context, page, problems = open_page(browser, base_url, width, scheme)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)

    log_in(page, username)
    page.goto("/settings/donations")
    assert page.get_by_text("Nothing yet").is_visible()
    # Token fields appear only for ERC-20.
    assert not page.get_by_label("Token", exact=True).is_visible()

    # A typo comes back under the field, with what was typed kept.
    form = page.locator("form.donation-form")
    form.get_by_label("Address").fill(BTC[:-1] + "5")
    form.get_by_role("button", name="Add address").click()
    page.get_by_text("That Bitcoin address's checksum doesn't match — check for a typo.").wait_for()
    assert page.locator("form.donation-form").get_by_label("Address").input_value() == BTC[:-1] + "5"
    shoot(page, screenshot_dir / f"donations-error-{width}-{scheme}.png")

    add(page, "BTC", BTC, note="<script>alert('hi')</script> Thanks for watching!")
    page.locator("form.donation-form").last.get_by_label("Currency").select_option("ERC20")
    assert page.get_by_label("Token", exact=True).is_visible()
    add(page, "ERC20", ETH.lower(), token="usdc")
    add(page, "XMR", XMR, note="Private tips welcome")

    cards = page.locator(".donation-card")
    assert cards.count() == 3
    assert cards.nth(0).get_by_text("<script>alert('hi')</script> Thanks for watching!").is_visible()
    assert cards.nth(1).get_by_role("heading", name="USDC (ERC-20 on Ethereum)").is_visible()
    assert cards.nth(1).get_by_role("link", name="Open in wallet").get_attribute("href") == \
        f"ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/transfer?address={ETH}"
    assert cards.nth(2).locator("svg.donation-qr-code").is_visible()
    assert page.get_by_text("never holds, receives or forwards funds").is_visible()

    cards.nth(0).get_by_role("button", name="Copy address").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == BTC

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    shoot(page, screenshot_dir / f"donations-settings-{width}-{scheme}.png")
    # Clipped from the whole page at the top, so the sticky header doesn't cover the section.
    box = page.locator(".donation-preview").bounding_box()
    page.screenshot(path=screenshot_dir / f"donations-public-{width}-{scheme}.png", full_page=True, caret="initial",
                    clip={"x": box["x"] - 8, "y": box["y"] - 8,
                          "width": box["width"] + 16, "height": box["height"] + 16})

    # Move the Monero address to the top, then remove Bitcoin.
    page.get_by_role("button", name="Move up: XMR address").click()
    expect(page.locator(".donation-card h3").nth(1)).to_have_text("Monero")
    page.get_by_role("button", name="Move up: XMR address").click()
    expect(page.locator(".donation-card h3").first).to_have_text("Monero")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#donations .donation-item", has_text=BTC).get_by_role("button", name="Remove").click()
    expect(page.locator(".donation-card")).to_have_count(2)
    context.close()
    assert not problems, problems
