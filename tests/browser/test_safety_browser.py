"""The trust-and-safety loop in Chromium: a viewer reports a chat message from the chat, the
channel's owner removes it with a statement of reasons, the author reads it and appeals, a
moderator upholds the appeal and the message is back in everyone's chat. Phone (light) and
desktop (dark)."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import ChannelRole
from tests.factories import make_user

from .test_chat_moderation_browser import open_chat, say, shoot

pytestmark = pytest.mark.browser

STATEMENT = "Calling people garbage is harassment under rule 1."


@pytest.mark.parametrize("width, scheme", [(390, "light"), (1280, "dark")])
def test_report_remove_appeal_restore(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    tag = f"{width}{scheme[0]}"
    host, mod, troll, viewer = (f"{role}{tag}" for role in ("host", "mod", "troll", "viewer"))
    with app.app_context():
        owner = make_user(host)
        moderator, _, _ = make_user(mod), make_user(troll), make_user(viewer)
        db.session.add(ChannelRole(channel_id=owner.channel.id, user_id=moderator.id, role="moderator"))
        db.session.commit()
    pages = {}
    try:
        for name in (troll, viewer):
            pages[name] = open_chat(browser, base_url, name, host, width, scheme)
        troll_page, reporter = pages[troll][1], pages[viewer][1]
        say(troll_page, "you are garbage, leave")
        line = reporter.locator(".chat-line", has_text="you are garbage")
        line.wait_for()

        # Report it from the chat: a tap on the line shows the flag (no hover on phones).
        line.locator(".chat-text").click()
        line.locator("[data-chat-report]").click()
        dialog = reporter.locator("[data-chat-dialog]")
        expect(dialog.get_by_text("Why are you reporting this?")).to_be_visible()
        dialog.get_by_label(re.compile("Breaks rule 1")).check()
        dialog.get_by_label("Anything staff should know").fill("Aimed at me, twice today")
        box = dialog.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        shoot(reporter, screenshot_dir / f"safety-report-dialog-{width}-{scheme}.png")
        dialog.get_by_role("button", name="Send report").click()
        expect(dialog).to_contain_text("your report is in")

        # The owner removes it from the queue, with a statement of reasons.
        host_ctx, host_page, host_problems = open_chat(browser, base_url, host, host, width, scheme)
        pages[host] = (host_ctx, host_page, host_problems)
        host_page.goto("/moderation/reports")
        host_page.get_by_role("link", name=re.compile("chat message by @" + troll)).click()
        expect(host_page.locator(".safety-evidence .is-reported")).to_contain_text("you are garbage")
        shoot(host_page, screenshot_dir / f"safety-case-{width}-{scheme}.png")
        host_page.get_by_label("Action", exact=True).select_option("remove")
        host_page.get_by_label("Rule broken").select_option("rule-1")
        host_page.get_by_label(re.compile("Statement of reasons")).fill(STATEMENT)
        host_page.get_by_role("button", name="Take action").click()
        expect(host_page.locator(".flash")).to_contain_text("the person has been told why")
        expect(line).to_have_count(0)  # gone from the reporter's chat

        # The author reads why and appeals.
        troll_page.goto("/")
        troll_page.get_by_role("link", name=re.compile("Read why")).click()
        troll_page.get_by_role("link", name="Content removed").click()
        expect(troll_page.locator(".statement")).to_contain_text(STATEMENT)
        expect(troll_page.locator(".statement")).to_contain_text("Rule 1: No harassment")
        expect(troll_page.locator("body")).not_to_contain_text(viewer)
        shoot(troll_page, screenshot_dir / f"safety-notice-{width}-{scheme}.png")
        troll_page.get_by_label("Why the decision is wrong").fill("It was a joke between friends.")
        troll_page.get_by_role("button", name="Send appeal").click()
        expect(troll_page.locator(".flash")).to_contain_text("Your appeal was sent")

        # A moderator who did not act upholds it; the message is back in the chat.
        mod_ctx, mod_page, mod_problems = open_chat(browser, base_url, mod, host, width, scheme)
        pages[mod] = (mod_ctx, mod_page, mod_problems)
        mod_page.goto("/moderation/appeals")
        mod_page.get_by_label(re.compile("Uphold the appeal")).check()
        mod_page.get_by_label(re.compile("Your decision")).fill("Banter between friends; restored.")
        shoot(mod_page, screenshot_dir / f"safety-appeals-{width}-{scheme}.png")
        mod_page.get_by_role("button", name="Decide").click()
        expect(mod_page.locator(".flash")).to_contain_text("Appeal upheld")
        expect(reporter.locator(".chat-line", has_text="you are garbage")).to_have_count(1)

        reporter.goto("/reports")
        reporter.get_by_role("link", name=re.compile("chat message by")).click()
        # The appeal reversed the removal: the reporter reads that, not the first decision.
        expect(reporter.locator(".safety-outcome")).to_contain_text("another member of staff reversed the action")
        for name, (_, _, problems) in pages.items():
            assert problems == [], (name, problems)
    finally:
        for context, _, _ in pages.values():
            context.close()


def test_dmca_notice_and_counter_notice(browser, live_server, screenshot_dir):
    from app.models import VOD
    from tests.browser.conftest import log_in, open_page

    base_url, app = live_server
    with app.app_context():
        owner = make_user("dmcauploader")
        vod = VOD(channel_id=owner.channel.id, object_key="vods/x/master.m3u8", title="Rain cover",
                  visibility="public", duration_seconds=90)
        db.session.add(vod)
        db.session.commit()
        address = f"{base_url}/c/{owner.channel.slug}/videos/{vod.id}"
    contexts = []
    try:
        for width, scheme in ((390, "dark"), (1280, "light")):
            context, page, problems = open_page(browser, base_url, width, scheme)
            contexts.append(context)
            page.goto("/legal/dmca")
            page.get_by_role("link", name="takedown form").click()
            expect(page.get_by_role("heading", name="Copyright takedown notice")).to_be_visible()
            page.get_by_label("Address of the video on this site").fill(address)
            page.get_by_label("The copyrighted work").fill("My song 'Rain'")
            page.get_by_label(re.compile("Your full legal name")).fill("Jo Owner")
            page.get_by_label("Postal address").fill("1 Main St, Springfield")
            page.get_by_label("Telephone").fill("+1 555 0100")
            page.get_by_label("E-mail").fill("jo@example.org")
            page.get_by_label(re.compile("good faith belief")).check()
            if width == 390:  # the perjury statement left out: refused, with the element named
                page.get_by_role("button", name="Send notice").click()
                expect(page.locator(".error")).to_contain_text("§512(c)(3)(A)(vi)")
                shoot(page, screenshot_dir / f"dmca-refused-{width}-{scheme}.png")
                assert all("status of 400" in problem for problem in problems), problems  # the refusal itself
                continue
            page.get_by_label(re.compile("under penalty of perjury")).check()
            page.get_by_role("button", name="Send notice").click()
            expect(page.get_by_role("heading", name="Your notice was received")).to_be_visible()
            assert problems == [], problems

        # The uploader finds the video disabled, with the way to counter-notice.
        context, page, problems = open_page(browser, base_url, 390, "light")
        contexts.append(context)
        log_in(page, "dmcauploader")
        response = page.goto(address)
        assert response.status == 451
        page.get_by_role("link", name=re.compile("send a counter-notice")).click()
        page.get_by_label("Your full legal name").fill("Dee Uploader")
        page.get_by_label("Postal address").fill("2 Side St, Shelbyville")
        page.get_by_label("Telephone").fill("+1 555 0101")
        page.get_by_label(re.compile("mistake or misidentification")).check()
        page.get_by_label(re.compile("I consent to the jurisdiction")).check()
        page.get_by_label(re.compile("electronic signature")).fill("Dee Uploader")
        shoot(page, screenshot_dir / "dmca-counter-390-light.png")
        page.get_by_role("button", name="Send counter-notice").click()
        expect(page.locator(".flash-success")).to_contain_text("sent to the claimant")
        expect(page.locator(".statement")).to_contain_text("the video comes back on")
        assert all("status of 451" in problem for problem in problems), problems  # the disabled video's page
    finally:
        for context in contexts:
            context.close()


def test_a_phone_viewer_reports_a_vod_range_and_a_profile(browser, live_server, screenshot_dir):
    """At 390 px a viewer reports 0:30–0:45 of a video and a profile from their pages' Report
    links; both land in the site's queue, the range with the video's."""
    from app.models import VOD
    from tests.browser.conftest import log_in, open_page

    base_url, app = live_server
    with app.app_context():
        owner, reported, _, _ = (make_user(name) for name in ("vodowner", "badprofile", "phoneviewer", "queueadmin"))
        admin = db.session.scalars(db.select(type(owner)).where(type(owner).username == "queueadmin")).one()
        admin.role = "admin"
        vod = VOD(channel_id=owner.channel.id, object_key="vods/r/master.m3u8", title="Range video",
                  visibility="public", duration_seconds=120)
        db.session.add(vod)
        db.session.commit()
        watch, profile = f"/c/{owner.channel.slug}/videos/{vod.id}", f"/u/{reported.username}"
    contexts = []
    try:
        context, page, _ = open_page(browser, base_url, 390, "light")
        contexts.append(context)
        log_in(page, "phoneviewer")
        page.goto(watch)
        page.locator(".report-link").click()
        page.get_by_label(re.compile("Breaks rule 1")).check()
        page.get_by_label("From (seconds)").fill("30")
        page.get_by_label("To (seconds)").fill("45")
        page.get_by_label("Anything staff should know").fill("Slurs from 0:30")
        form = page.locator("form", has=page.get_by_role("button", name="Send report"))
        box = form.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        shoot(page, screenshot_dir / "safety-report-vod-390-light.png")
        page.get_by_role("button", name="Send report").click()
        expect(page.locator("body")).to_contain_text("your report is in")

        page.goto(profile)
        page.locator(".report-link").click()
        page.get_by_label(re.compile("Breaks rule 1")).check()
        page.get_by_role("button", name="Send report").click()
        expect(page.locator("body")).to_contain_text("your report is in")

        admin_context, admin_page, admin_problems = open_page(browser, base_url, 390, "light")
        contexts.append(admin_context)
        log_in(admin_page, "queueadmin")
        admin_page.goto("/moderation/reports")
        expect(admin_page.locator("#cases")).to_contain_text("Range video")
        expect(admin_page.locator("#cases")).to_contain_text("badprofile")
        admin_page.locator("#cases a", has_text="Range video").click()
        expect(admin_page.locator("body")).to_contain_text("phoneviewer")
        expect(admin_page.locator("body")).to_contain_text("Slurs from 0:30")
        expect(admin_page.locator("body")).to_contain_text("Range: 30.0 s – 45.0 s")
        assert admin_problems == [], admin_problems
    finally:
        for each in contexts:
            each.close()
