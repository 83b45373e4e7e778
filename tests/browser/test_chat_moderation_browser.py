"""A moderator times someone out from the chat, sees Undo in the chat and in the recent actions, and
undoes it; a viewer opens a user card and sees no moderation history. Phone and desktop, both themes."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Follow
from tests.browser.conftest import log_in
from tests.factories import make_user

pytestmark = pytest.mark.browser


def open_chat(browser, base_url: str, username: str, channel: str, width: int, scheme: str):
    height = 844 if width < 600 else 900
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                  base_url=base_url)
    context.add_cookies([{"name": "theme", "value": scheme, "url": base_url}])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    log_in(page, username)
    page.goto(f"/c/{channel}")
    page.locator(".chat:not(.is-disconnected)").wait_for()
    expect(page.locator("[data-chat-send]")).to_be_enabled()
    return context, page, problems


def say(page, text: str) -> None:
    page.fill("[data-chat-input]", text)
    page.press("[data-chat-input]", "Enter")


def shoot(page, path) -> None:
    # caret="initial": Playwright hides the caret with an inline style, which the CSP refuses.
    page.screenshot(path=str(path), caret="initial")


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_timeout_undo_recent_actions_and_user_cards(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    tag = f"{width}{scheme[0]}"
    host, fan = f"host{tag}", f"fan{tag}"
    with app.app_context():
        make_user(host)
        viewer = make_user(fan)
        viewer.profile.display_name = f"Fan {tag}"
        db.session.add(Follow(follower_id=viewer.id, channel_id=make_user(f"other{tag}").channel.id))
        db.session.commit()
    host_ctx, mod, mod_problems = open_chat(browser, base_url, host, host, width, scheme)
    fan_ctx, fan_page, fan_problems = open_chat(browser, base_url, fan, host, width, scheme)
    try:
        say(fan_page, "hello from the fan")
        line = mod.locator(".chat-line", has_text="hello from the fan")
        line.wait_for()

        # The moderator opens the fan's card from their name: who they are, and their record here.
        line.locator("[data-chat-user]").click()
        dialog = mod.locator("[data-chat-dialog]")
        expect(dialog.locator(".user-card")).to_be_visible()
        expect(dialog).to_contain_text(f"@{fan}")
        expect(dialog).to_contain_text("Joined today")
        expect(dialog).to_contain_text("Not following")
        expect(dialog).to_contain_text("No timeouts or bans in this channel.")
        box = dialog.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width  # fits the screen
        shoot(mod, screenshot_dir / f"chat-card-moderator-{width}-{scheme}.png")

        dialog.locator("[data-dialog-reason]").fill("cool off")
        dialog.locator("[data-dialog-action=timeout][data-seconds='600']").click()
        expect(dialog).to_be_hidden()
        status = mod.locator("#chat-mod-status")
        expect(status).to_contain_text(f"{fan} is timed out for 10 minutes.")
        expect(status.get_by_role("button", name="Undo")).to_be_visible()
        fan_page.locator(".chat-notice", has_text="You were timed out for 10 minutes").wait_for()
        shoot(mod, screenshot_dir / f"chat-undo-toast-{width}-{scheme}.png")

        say(fan_page, "am I muted?")
        refused = fan_page.locator(".chat-outbox-item.is-failed", has_text="am I muted?")
        expect(refused).to_contain_text("You are timed out")
        refused.locator("[data-outbox-discard]").click()

        # The moderator menu lists it, newest first, with Undo.
        mod.locator(".chat-mod-menu summary").click()
        recent = mod.locator("[data-recent-actions]")
        entry = recent.locator(".recent-action").first
        expect(entry).to_contain_text(f"{host} timed out Fan {tag} for 10 minutes")
        expect(entry).to_contain_text("Reason: cool off")
        shoot(mod, screenshot_dir / f"chat-recent-actions-{width}-{scheme}.png")
        entry.get_by_role("button", name=re.compile("^Undo")).click()
        expect(status).to_contain_text(f"{fan} can chat again.")
        # The undo arrives in the list live, and the timeout has no Undo any more.
        expect(recent.locator(".recent-action").first).to_contain_text(f"ended the timeout of Fan {tag}")
        expect(recent.locator(".recent-action", has_text="timed out").get_by_role("button")).to_have_count(0)
        shoot(mod, screenshot_dir / f"chat-recent-undone-{width}-{scheme}.png")
        mod.keyboard.press("Escape")

        fan_page.locator(".chat-notice", has_text="You can chat again.").wait_for()
        say(fan_page, "back again")
        mod.locator(".chat-line", has_text="back again").wait_for()

        # A viewer's card of the streamer: from the keyboard, no moderation history, Escape closes.
        say(mod, "welcome back")
        host_line = fan_page.locator(".chat-line", has_text="welcome back")
        host_line.wait_for()
        host_line.locator("[data-chat-user]").focus()
        fan_page.keyboard.press("Enter")
        fan_dialog = fan_page.locator("[data-chat-dialog]")
        expect(fan_dialog.locator(".user-card")).to_be_visible()
        expect(fan_dialog).to_contain_text(f"@{host}")
        expect(fan_dialog).to_contain_text("This is the channel's streamer")
        expect(fan_dialog.get_by_role("link", name="View profile")).to_have_attribute("href", f"/u/{host}")
        assert fan_dialog.locator(".user-card-mod, [data-dialog-action]").count() == 0
        assert "In this channel" not in fan_dialog.inner_text()
        shoot(fan_page, screenshot_dir / f"chat-card-viewer-{width}-{scheme}.png")
        fan_page.keyboard.press("Escape")
        expect(fan_dialog).to_be_hidden()

        # The fan's card, seen by the moderator again: the timeout is on record now.
        mod.locator(".chat-line", has_text="back again").locator("[data-chat-user]").click()
        expect(dialog).to_contain_text("1 timeout · 0 bans")
        expect(dialog).to_contain_text("Reason: cool off")
        shoot(mod, screenshot_dir / f"chat-card-history-{width}-{scheme}.png")
        mod.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
    finally:
        host_ctx.close()
        fan_ctx.close()
    assert mod_problems == [] and fan_problems == []


def test_ban_and_deleted_message_undone_from_recent_actions_on_a_phone(browser, live_server, screenshot_dir):
    base_url, app = live_server
    host, fan, watcher = "hostundo", "fanundo", "watchundo"
    with app.app_context():
        for name in (host, fan, watcher):
            make_user(name)
    host_ctx, mod, mod_problems = open_chat(browser, base_url, host, host, 390, "light")
    fan_ctx, fan_page, fan_problems = open_chat(browser, base_url, fan, host, 390, "light")
    watch_ctx, watch_page, watch_problems = open_chat(browser, base_url, watcher, host, 390, "light")
    status = mod.locator("#chat-mod-status")
    recent = mod.locator("[data-recent-actions]")
    try:
        # A deleted message, undone: the line is back for everyone watching.
        say(fan_page, "this one was fine")
        for page in (mod, watch_page):
            page.locator(".chat-line", has_text="this one was fine").wait_for()
        mod.locator(".chat-line", has_text="this one was fine").get_by_role("button", name="Delete message").click()
        expect(status).to_contain_text("Message deleted.")
        for page in (watch_page, fan_page, mod):
            expect(page.locator(".chat-line", has_text="this one was fine")).to_have_count(0)
        mod.locator(".chat-mod-menu summary").click()
        entry = recent.locator(".recent-action").first
        expect(entry).to_contain_text(f"{host} deleted a message from {fan}")
        expect(entry).to_contain_text("“this one was fine”")
        shoot(mod, screenshot_dir / "chat-recent-delete-390-light.png")
        entry.get_by_role("button", name=re.compile("^Undo")).click()
        expect(status).to_contain_text("Message restored.")
        expect(recent.locator(".recent-action").first).to_contain_text(f"{host} restored a message from {fan}")
        for page in (watch_page, fan_page, mod):
            expect(page.locator(".chat-line", has_text="this one was fine")).to_have_count(1)
        shoot(watch_page, screenshot_dir / "chat-restored-viewer-390-light.png")
        mod.keyboard.press("Escape")

        # A ban from the user card, undone from the recent actions: the user can chat again.
        say(fan_page, "say something banworthy")
        line = mod.locator(".chat-line", has_text="say something banworthy")
        line.wait_for()
        line.locator("[data-chat-user]").click()
        dialog = mod.locator("[data-chat-dialog]")
        expect(dialog.locator(".user-card")).to_be_visible()
        dialog.locator("[data-dialog-reason]").fill("spam")
        dialog.locator("[data-dialog-action=ban]").click()
        expect(dialog).to_be_hidden()
        expect(status).to_contain_text(f"{fan} is banned from this chat.")
        fan_page.locator(".chat-notice", has_text="You were banned from this chat.").wait_for()
        say(fan_page, "still here?")
        refused = fan_page.locator(".chat-outbox-item.is-failed", has_text="still here?")
        expect(refused).to_contain_text("You are banned from this chat")
        refused.locator("[data-outbox-discard]").click()

        mod.locator(".chat-mod-menu summary").click()
        entry = recent.locator(".recent-action").first
        expect(entry).to_contain_text(f"{host} banned {fan}")
        expect(entry).to_contain_text("Reason: spam")
        shoot(mod, screenshot_dir / "chat-recent-ban-390-light.png")
        entry.get_by_role("button", name=re.compile("^Undo")).click()
        expect(status).to_contain_text(f"{fan} is unbanned.")
        expect(recent.locator(".recent-action").first).to_contain_text(f"{host} unbanned {fan}")
        expect(recent.locator(".recent-action", has_text="banned").first.get_by_role("button")).to_have_count(0)
        shoot(mod, screenshot_dir / "chat-recent-unbanned-390-light.png")
        mod.keyboard.press("Escape")

        fan_page.locator(".chat-notice", has_text="You were unbanned. You can chat again.").wait_for()
        say(fan_page, "thanks, back again")
        for page in (mod, watch_page):
            page.locator(".chat-line", has_text="thanks, back again").wait_for()
        expect(fan_page.locator(".chat-outbox-item")).to_have_count(0)
        shoot(fan_page, screenshot_dir / "chat-unbanned-fan-390-light.png")
    finally:
        host_ctx.close()
        fan_ctx.close()
        watch_ctx.close()
    assert mod_problems == [] and fan_problems == [] and watch_problems == []
