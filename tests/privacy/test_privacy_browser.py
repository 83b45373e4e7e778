"""Settings → Your data, deleting an account and the keep-my-account page in a real browser: 390 px
and 1280 px wide, light and dark, nothing wider than the screen, no console errors (the CSP refuses
inline code). The export is built by the real RQ job and downloaded through the page's own link;
the deletion is asked for with the password in the account page's form."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.models import DataExport
from app.privacy import exports
from tests.browser.conftest import log_in, open_page, serve
from tests.conftest import base_config, run_jobs
from tests.factories import PASSWORD, make_user
from workers import context as worker_context

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(sqlite_url, tmp_path_factory):
    """The live app with objects in a directory of this module's and a queue of its own, so the
    export job the test runs stores the ZIP where the app serves it from."""
    from app import create_app

    config = {**base_config(sqlite_url), "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
              "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}"}
    yield from serve(create_app(config))


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_your_data_page(browser, live_server, screenshot_dir, monkeypatch, width, scheme):
    base_url, app = live_server
    monkeypatch.setattr(worker_context, "_app", app)  # the export job runs on the live app
    name, leaving = f"data{width}{scheme}", f"gone{width}{scheme}"
    with app.app_context():
        make_user(name)
        make_user(leaving)
    context, page, problems = open_page(browser, base_url, width, scheme)
    try:
        log_in(page, name)
        page.goto("/settings/privacy")
        expect(page.get_by_role("heading", name="Your data", exact=True)).to_be_visible()
        page.get_by_role("button", name="Ask for a copy of my data").click()
        expect(page.get_by_text("We're putting your data together")).to_be_visible()
        assert fits(page)
        page.screenshot(path=screenshot_dir / f"privacy-{width}-{scheme}.png", full_page=True, caret="initial")

        # The worker builds it; the page, polling, offers the link; the browser downloads the ZIP.
        with app.app_context():
            built = [job for job in run_jobs(app) if job.func_name == "workers.privacy.build_export"]
            assert len(built) == 1  # (the previous run queued the erasure mail too)
        link = page.get_by_role("link", name="Download your data")
        expect(link).to_be_visible(timeout=15_000)
        with page.expect_download() as download_info:
            link.click()
        download = download_info.value
        assert download.suggested_filename.endswith(".zip")
        files = exports.read_archive(Path(download.path()).read_bytes())
        assert files["profile.json"]["username"] == name and f"@{name}" in files["README.txt"]
        with app.app_context():
            (export,) = DataExport.query.filter_by(user_id=files["profile.json"]["id"]).all()
            assert export.state == "ready"
        page.screenshot(path=screenshot_dir / f"privacy-ready-{width}-{scheme}.png", full_page=True,
                        caret="initial")
    finally:
        context.close()
    assert problems == []

    # Deleting an account: its owner types their password in the account page's form and is told
    # when it goes and how to keep it.
    context, page, problems = open_page(browser, base_url, width, scheme)
    try:
        log_in(page, leaving)
        page.goto("/settings/account")
        zone = page.locator("#delete-account")
        zone.get_by_label("Your password").fill("not my password")
        zone.get_by_role("button", name="Delete my account").click()
        expect(page.get_by_text("That isn't your current password.")).to_be_visible()
        page.locator("#delete-account").get_by_label("Your password").fill(PASSWORD)
        page.locator("#delete-account").get_by_role("button", name="Delete my account").click()
        page.wait_for_url(f"{base_url}/")
        expect(page.get_by_text("log in before then to keep it")).to_be_visible()
        assert fits(page)
        page.screenshot(path=screenshot_dir / f"deleted-{width}-{scheme}.png", full_page=True, caret="initial")
    finally:
        context.close()
    assert problems == []

    # Logging in during the grace offers to keep it.
    context, keep, problems = open_page(browser, base_url, width, scheme)
    try:
        keep.goto("/login")
        keep.get_by_label("Username or email").fill(leaving)
        keep.get_by_label("Password").fill(PASSWORD)
        keep.get_by_role("button", name="Log in").click()
        expect(keep.get_by_role("button", name="Keep my account (cancel deletion)")).to_be_visible()
        assert fits(keep)
        keep.screenshot(path=screenshot_dir / f"keep-account-{width}-{scheme}.png", full_page=True, caret="initial")
        keep.get_by_role("button", name="Keep my account (cancel deletion)").click()
        expect(keep.get_by_text("Your account will not be deleted")).to_be_visible()
    finally:
        context.close()
    assert problems == []
