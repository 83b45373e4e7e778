"""A follower's bell lights up without a reload when a followed channel goes live; the Following
and notifications pages in both themes and at phone and desktop widths."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.channels import services as channels
from app.extensions import db
from app.models import Follow, Notification, User, utcnow
from app.streams import services as streams
from app.streams import viewers
from tests.browser.conftest import log_in, open_page
from tests.conftest import wait_for
from tests.factories import make_live, make_user
from tests.follow.conftest import run_notify_jobs

pytestmark = pytest.mark.browser


def shoot(page, path):
    # caret="initial": Playwright hides the caret with an inline style, which the CSP refuses.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True, caret="initial")


def followed_channels(app, suffix: str):
    """A follower, the channel that will go live, and a few followed channels in every state."""
    with app.app_context():
        fan = make_user(f"fan{suffix}")
        star = make_user(f"star{suffix}")
        star.channel.title = "Late-night synth jam"
        key = channels.rotate_stream_key(star.channel)
        busy, quiet, resting = (make_user(f"{name}{suffix}") for name in ("busy", "quiet", "rest"))
        busy.channel.title = "Speedrunning the whole trilogy"
        make_live(busy)
        make_live(quiet)
        for viewer in ("a", "b", "c"):
            viewers.heartbeat(busy.channel.id, viewer, None)
        resting.channel.last_live_at = utcnow()
        for user in (star, busy, quiet, resting):
            db.session.add(Follow(follower_id=fan.id, channel_id=user.channel.id))
        db.session.commit()
        return fan.username, star.username, key, resting.username


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_bell_updates_live_when_a_followed_channel_goes_live(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    fan, star, key, resting = followed_channels(app, f"{width}{scheme[0]}")
    context, page, problems = open_page(browser, base_url, width, scheme)

    log_in(page, fan)

    page.goto("/following")
    page.wait_for_load_state("networkidle")
    bell = page.get_by_role("link", name=re.compile(r"^Notifications"))
    assert bell.get_attribute("aria-label") == "Notifications"
    assert not page.locator("[data-unread-badge]").is_visible()
    cards = page.locator(".following-grid .channel-card-title")
    assert cards.first.inner_text() == "Speedrunning the whole trilogy"
    assert page.locator(".following-grid .thumb-viewers").first.inner_text() == "3 viewers"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    shoot(page, screenshot_dir / f"follow-following-{width}-{scheme}.png")

    # What the publish hook does, what the live host does once the stream plays, then the
    # worker's fan-out job.
    with app.app_context():
        session = streams.go_live(key, ingest="nginx", client_id="1")
        assert run_notify_jobs() == 0  # nobody is told before the stream can be played
        assert streams.mark_playable(session.id, session.lease_token)
        assert run_notify_jobs() == 1
    badge = page.locator("[data-unread-badge]")
    badge.wait_for(state="visible", timeout=10_000)
    assert badge.inner_text() == "1"
    assert bell.get_attribute("aria-label") == "Notifications, 1 unread"
    toast = page.locator(".toast")
    toast.wait_for()
    assert f"{star} is live" in toast.inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=screenshot_dir / f"follow-bell-{width}-{scheme}.png", caret="initial")

    bell.click()
    page.wait_for_url(re.compile(r"/notifications$"))
    item = page.locator(".notification-item.is-unread")
    assert item.count() == 1 and star in item.inner_text()
    shoot(page, screenshot_dir / f"follow-notifications-{width}-{scheme}.png")
    page.get_by_role("button", name="Mark all read").click()
    wait_for(lambda: page.locator(".notification-item.is-unread").count() == 0, 5, "mark all read")
    assert not page.locator("[data-unread-badge]").is_visible()
    assert page.get_by_role("link", name=re.compile(r"^Notifications")).get_attribute("aria-label") == "Notifications"

    # The toggle on a channel page swaps itself in place.
    page.goto(f"/c/{resting}")
    if width < 769:  # on phones the follower count is one of the channel's details, behind About
        page.get_by_role("button", name="About").click()
    toggle = page.locator(".follow-button")
    assert toggle.get_attribute("aria-pressed") == "true" and page.get_by_text("1 follower").is_visible()
    toggle.click()
    page.locator('.follow-button[aria-pressed="false"]').wait_for()
    assert page.get_by_text("0 followers").is_visible()
    page.locator(".follow-button").click()
    page.locator('.follow-button[aria-pressed="true"]').wait_for()
    assert page.url.endswith(f"/c/{resting}")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    shoot(page, screenshot_dir / f"follow-channel-{width}-{scheme}.png")
    context.close()
    assert not problems, problems


def test_opening_the_list_on_a_phone_marks_it_read(browser, live_server, screenshot_dir):
    base_url, app = live_server
    fan, star, key, resting = followed_channels(app, "390r")
    with app.app_context():
        rester = db.session.scalars(select(User).filter_by(username=resting)).one()
        for client_id, stream_key in (("31", key), ("32", channels.rotate_stream_key(rester.channel))):
            session = streams.go_live(stream_key, ingest="nginx", client_id=client_id)
            assert streams.mark_playable(session.id, session.lease_token)
        assert run_notify_jobs() == 2
        fan_id = db.session.scalars(select(User.id).filter_by(username=fan)).one()
    context, page, problems = open_page(browser, base_url, 390, "light")
    page.set_viewport_size({"width": 390, "height": 844})

    log_in(page, fan)
    badge = page.locator("[data-unread-badge]")
    expect(badge).to_have_text("2")
    bell = page.get_by_role("link", name=re.compile(r"^Notifications"))
    bell.click()  # and nothing else: opening the list is what reads it
    page.wait_for_url(re.compile(r"/notifications$"))
    # The open list still shows what was new; the bell's count is gone.
    expect(page.locator(".notification-item.is-unread")).to_have_count(2)
    expect(badge).to_be_hidden()
    expect(bell).to_have_attribute("aria-label", "Notifications")
    shoot(page, screenshot_dir / "follow-notifications-opened-390-light.png")

    def unread() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Notification)
                                     .where(Notification.user_id == fan_id, Notification.read_at.is_(None)))

    wait_for(lambda: unread() == 0, 5, "the opened notifications to be read")
    page.reload()
    expect(page.locator(".notification-item")).to_have_count(2)
    expect(page.locator(".notification-item.is-unread")).to_have_count(0)
    expect(badge).to_be_hidden()
    page.goto("/")
    expect(bell).to_have_attribute("aria-label", "Notifications")
    expect(badge).to_be_hidden()
    context.close()
    assert not problems, problems
