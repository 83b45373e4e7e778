"""Two Chromium pages chat through nginx on the real stack, over WebSocket, and a moderator acts from the page."""
from __future__ import annotations

import contextlib
import dataclasses
import queue
import socket
import threading
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.tcpproxy import Proxy

from .test_live import flask

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PASSWORD = "a long enough pass"


@pytest.fixture(scope="module")
def accounts(stack):
    # phonestar's chat is the phone tests' own: the tests before them time chatfan out and put
    # chatstar's chat in slow mode.
    for name in ("chatstar", "chatfan", "phonestar", "phonefan"):
        flask(stack, "users", "create", name, "--password", PASSWORD)
    return stack


def open_chat(browser, stack, username: str | None, *, width=1280, height=900, theme="dark", channel="chatstar"):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies([{"name": "theme", "value": theme, "url": stack.base_url}])
    page = context.new_page()
    sockets = []
    polls = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda r: polls.append(r.url) if "transport=polling" in r.url else None)
    if username:
        page.goto(f"{stack.base_url}/login")
        page.fill("input[name=login]", username)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{stack.base_url}/c/{channel}")
    page.wait_for_selector(".chat:not(.is-disconnected)")
    page.wait_for_function("document.querySelector('[data-chat-send]') === null || "
                           "!document.querySelector('[data-chat-send]').disabled")
    return context, page, sockets, polls


def say(page, text: str) -> None:
    page.fill("[data-chat-input]", text)
    page.press("[data-chat-input]", "Enter")


# Enter pressed three times in one task: each send is still unacknowledged when the next is typed.
RAPID_FIRE = """(texts) => {
  const input = document.querySelector('[data-chat-input]');
  for (const text of texts) {
    input.value = text;
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
  }
}"""


def test_messages_sent_faster_than_the_round_trip_all_arrive_in_order(browser, accounts):
    stack = accounts
    star_ctx, star, _, _ = open_chat(browser, stack, "chatstar")
    fan_ctx, fan, _, _ = open_chat(browser, stack, "chatfan", width=390, height=844, theme="light")
    try:
        fan.evaluate(RAPID_FIRE, ["lol", "gg", "third in a row"])
        assert fan.input_value("[data-chat-input]") == ""  # free for the next one at once
        star.wait_for_selector(".chat-line:has-text('third in a row')", timeout=5000)
        texts = star.locator(".chat-line .chat-text").all_inner_texts()
        assert [t for t in texts if t in ("lol", "gg", "third in a row")] == ["lol", "gg", "third in a row"]
        fan.wait_for_selector("[data-chat-outbox]", state="hidden")
        assert fan.locator(".chat-line .chat-text").all_inner_texts()[-3:] == ["lol", "gg", "third in a row"]
    finally:
        star_ctx.close()
        fan_ctx.close()


def test_two_browsers_chat_in_real_time_over_websocket(browser, accounts):
    stack = accounts
    star_ctx, star, star_sockets, star_polls = open_chat(browser, stack, "chatstar")
    fan_ctx, fan, fan_sockets, fan_polls = open_chat(browser, stack, "chatfan", width=390, height=844,
                                                     theme="light")
    try:
        say(fan, "hi from the phone <b>not bold</b> :wave:")
        star.wait_for_selector(".chat-line:has-text('hi from the phone')", timeout=5000)
        line = star.locator(".chat-line", has_text="hi from the phone")
        assert "<b>not bold</b>" in line.inner_text()  # shown as text, not markup
        assert "👋" in line.inner_text()
        say(star, "welcome in! https://example.com")
        fan.wait_for_selector(".chat-line:has-text('welcome in!')", timeout=5000)
        link = fan.locator(".chat-line a[href='https://example.com']")
        assert link.get_attribute("rel") == "nofollow noopener noreferrer ugc"
        assert fan.locator(".chat-line:has-text('welcome in!') .chat-badge-owner").count() == 1
        assert fan.input_value("[data-chat-input]") == ""
        # Through nginx, straight onto WebSocket: no long-polling at all.
        for sockets, polls in ((star_sockets, star_polls), (fan_sockets, fan_polls)):
            assert any("/socket.io/" in url and "transport=websocket" in url for url in sockets)
            assert polls == []
        assert all(url.startswith(f"ws://127.0.0.1:{stack.http_port}/") for url in star_sockets)
        # Mod tools are shown by CSS from the viewer's role, in the same HTML everyone got.
        assert star.locator(".chat-line:has-text('hi from the phone') .chat-tools").is_visible()
        assert not fan.locator(".chat-line:has-text('welcome in!') .chat-tools").is_visible()

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        star.screenshot(path=str(SCREENSHOTS / "chat-desktop-dark.png"))
        fan.locator("#chat").scroll_into_view_if_needed()
        fan.screenshot(path=str(SCREENSHOTS / "chat-phone-light.png"))

        # The owner deletes the fan's message from the page; it disappears on the fan's page.
        star.locator(".chat-line:has-text('hi from the phone') button[title='Delete message']").click()
        star.wait_for_selector("#chat-mod-status:has-text('Message deleted.')")
        fan.wait_for_selector(".chat-line:has-text('hi from the phone')", state="detached", timeout=5000)

        # Time the fan out from the name dialog: a notice for them, and their sends are refused.
        say(fan, "second message")
        star.wait_for_selector(".chat-line:has-text('second message')")
        star.locator(".chat-line:has-text('second message') [data-chat-user]").click()
        star.fill("[data-dialog-reason]", "take a breather")
        star.locator("[data-dialog-action=timeout][data-seconds='60']").click()
        star.wait_for_selector("#chat-mod-status:has-text('timed out for 1 minute')")
        fan.wait_for_selector(".chat-notice:has-text('You were timed out for 1 minute')", timeout=5000)
        fan.wait_for_selector(".chat-line:has-text('second message')", state="detached", timeout=5000)
        say(fan, "am I muted?")
        # The refused message stays on screen with the reason and a retry; the box is free again.
        refused = fan.locator(".chat-outbox-item.is-failed", has_text="am I muted?")
        refused.wait_for(timeout=5000)
        assert "You are timed out" in refused.inner_text()
        assert refused.locator("[data-outbox-retry]").is_visible()
        assert fan.input_value("[data-chat-input]") == ""
        fan.screenshot(path=str(SCREENSHOTS / "chat-phone-timed-out.png"))
        refused.locator("[data-outbox-retry]").click()  # still timed out: refused again, still there
        # "Sending…" in between (the click clears the failure at once), then refused again.
        fan.locator(".chat-outbox-item.is-failed", has_text="timed out").wait_for(timeout=5000)
        refused.locator("[data-outbox-discard]").click()
        fan.wait_for_selector("[data-chat-outbox]", state="hidden")

        # Slow mode from the moderator menu shows on the fan's page at once.
        star.click(".chat-mod-menu summary")
        star.select_option("[data-setting=slow_seconds]", "30")
        fan.wait_for_selector("[data-mode=slow]:not([hidden])", timeout=5000)
        star.screenshot(path=str(SCREENSHOTS / "chat-desktop-mod-menu.png"))
    finally:
        star_ctx.close()
        fan_ctx.close()


def test_anonymous_reader_sees_history_and_a_login_prompt(browser, accounts):
    stack = accounts
    ctx, page, sockets, _ = open_chat(browser, stack, None, width=390, height=844, theme="dark")
    try:
        assert page.locator(".chat-login a", has_text="Log in").is_visible()
        assert page.locator("[data-chat-input]").count() == 0
        page.wait_for_selector(".chat-line:has-text('welcome in!')")  # rendered by the server
        assert any("transport=websocket" in url for url in sockets)
        page.screenshot(path=str(SCREENSHOTS / "chat-phone-dark-anonymous.png"))
        ctx_l, light, _, _ = open_chat(browser, stack, None, width=1280, height=900, theme="light")
        light.screenshot(path=str(SCREENSHOTS / "chat-desktop-light.png"))
        ctx_l.close()
    finally:
        ctx.close()


class PhoneNetwork(Proxy):
    """The stack as a phone reaches it: `latency` seconds added each way (a round trip takes twice
    that longer), and a network that can stall: after `hold()` nothing gets through either way
    until `release()`, when what was sent meanwhile arrives, late and in order, as TCP delivers it."""

    def __init__(self, upstream: tuple[str, int], latency: float = 0.0):
        self.latency = latency
        self.flowing = threading.Event()
        self.flowing.set()
        super().__init__(upstream)

    def hold(self) -> None:
        self.flowing.clear()

    def release(self) -> None:
        self.flowing.set()

    def _pump(self, source: socket.socket, sink: socket.socket, close_delay: float = 0.0) -> None:
        due: queue.SimpleQueue = queue.SimpleQueue()

        def deliver() -> None:  # in order, each chunk `latency` after it was read, none while held
            while (item := due.get()) is not None:
                time.sleep(max(0.0, item[0] - time.monotonic()))
                self.flowing.wait()
                try:
                    sink.sendall(item[1])
                except OSError:
                    return

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        try:
            while chunk := source.recv(65536):
                due.put((time.monotonic() + self.latency, chunk))
        except OSError:
            pass
        finally:
            due.put(None)
            self.flowing.set()
            sender.join(timeout=5)
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


@contextlib.contextmanager
def through_phone_network(stack, latency: float = 0.0):
    """(a Stack whose base_url goes through a PhoneNetwork in front of nginx, the network)."""
    network = PhoneNetwork(("127.0.0.1", stack.http_port), latency=latency)
    try:
        yield dataclasses.replace(stack, http_port=network.port), network
    finally:
        network.refuse()


# The round trip of a Socket.IO event and its answer on the page's network, in ms (a socket of
# its own beside the chat's, which joins the channel's room: that is the event answered).
ROUND_TRIPS = """async (channel) => {
  const probe = window.io('/chat', { transports: ['websocket'], forceNew: true });
  if (!probe.connected) await new Promise((resolve) => probe.once('connect', resolve));
  const times = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    await new Promise((resolve) => probe.timeout(5000).emit('join', { channel, after: 0 }, resolve));
    times.push(performance.now() - start);
  }
  probe.disconnect();
  return times;
}"""


def new_lines(page, before: int) -> list[str]:
    return page.locator(".chat-line .chat-text").all_inner_texts()[before:]


def line_count(page) -> int:
    return page.locator(".chat-line .chat-text").count()


def test_lol_gg_on_a_phones_round_trip_both_arrive_in_order_once(browser, accounts):
    stack = accounts
    with through_phone_network(stack, latency=0.1) as (phone, network):
        star_ctx, star, _, _ = open_chat(browser, stack, "phonestar", channel="phonestar")
        fan_ctx, fan, sockets, _ = open_chat(browser, phone, "phonefan", width=390, height=844, theme="light",
                                             channel="phonestar")
        try:
            assert sockets and all(f":{network.port}/" in url for url in sockets)  # through the phone's network
            # The added latency reaches the WebSocket (Chromium's own throttling does not: CDP's
            # Network.emulateNetworkConditions latency leaves WebSocket frames alone).
            assert min(fan.evaluate(ROUND_TRIPS, "phonestar")) >= 200
            before = line_count(star)
            box = fan.locator("[data-chat-input]")
            started = time.monotonic()
            box.press_sequentially("lol")
            box.press("Enter")
            box.press_sequentially("gg")
            box.press("Enter")
            typed = time.monotonic() - started
            # "gg" went in while "lol" was still unanswered: both wait in the outbox, in order.
            outbox = fan.locator(".chat-outbox-item .chat-outbox-text").all_inner_texts()
            assert outbox == ["lol", "gg"], (outbox, typed)
            assert fan.input_value("[data-chat-input]") == ""
            fan.screenshot(path=str(SCREENSHOTS / "chat-phone-round-trip-outbox.png"), caret="initial")
            fan.wait_for_selector("[data-chat-outbox]", state="hidden", timeout=10_000)
            star.locator(".chat-line .chat-text", has_text="gg").last.wait_for(timeout=5000)
            fan.wait_for_timeout(1000)  # a duplicate would be on its way by now
            assert new_lines(star, before) == ["lol", "gg"]
            assert fan.locator(".chat-line .chat-text").all_inner_texts()[-2:] == ["lol", "gg"]
            fan.screenshot(path=str(SCREENSHOTS / "chat-phone-round-trip-sent.png"), caret="initial")
        finally:
            star_ctx.close()
            fan_ctx.close()


SEND_TIMEOUT = 8.0  # app/static/js/chat.js SEND_TIMEOUT_MS


def test_an_unanswered_message_says_so_and_retry_delivers_it_once(browser, accounts):
    stack = accounts
    with through_phone_network(stack) as (phone, network):
        star_ctx, star, _, _ = open_chat(browser, stack, "phonestar", channel="phonestar")
        fan_ctx, fan, _, _ = open_chat(browser, phone, "phonefan", width=390, height=844, theme="light",
                                       channel="phonestar")
        try:
            # The phone's network stalls after the page loaded: the server hears nothing, answers nothing.
            before = line_count(star)
            network.hold()
            started = time.monotonic()
            say(fan, "anyone there?")
            item = fan.locator(".chat-outbox-item", has_text="anyone there?")
            expect(item).to_contain_text("Sending…")
            expect(item).to_have_class("chat-outbox-item is-failed", timeout=(SEND_TIMEOUT + 5) * 1000)
            assert time.monotonic() - started >= SEND_TIMEOUT - 0.5
            assert item.locator("[data-outbox-state]").inner_text() == "Not sent: the server did not answer."
            expect(item.locator("[data-outbox-retry]")).to_be_visible()
            expect(item.locator("[data-outbox-discard]")).to_be_visible()
            assert fan.input_value("[data-chat-input]") == ""
            fan.screenshot(path=str(SCREENSHOTS / "chat-phone-not-answered.png"), caret="initial")
            assert new_lines(star, before) == []

            # Back online: the stalled send arrives late (the server stores it, its answer comes too
            # late for the page), then Retry sends it again under the same nonce: stored once.
            network.release()
            star.locator(".chat-line .chat-text", has_text="anyone there?").wait_for(timeout=5000)
            expect(item).to_have_class("chat-outbox-item is-failed")  # a late answer changes nothing
            item.locator("[data-outbox-retry]").click()
            fan.wait_for_selector("[data-chat-outbox]", state="hidden", timeout=5000)
            fan.locator(".chat-line .chat-text", has_text="anyone there?").wait_for(timeout=5000)
            fan.wait_for_timeout(1000)  # a duplicate would be on its way by now
            assert new_lines(star, before) == ["anyone there?"]
            assert fan.locator(".chat-line .chat-text", has_text="anyone there?").count() == 1
            fan.screenshot(path=str(SCREENSHOTS / "chat-phone-retried.png"), caret="initial")
        finally:
            star_ctx.close()
            fan_ctx.close()
