"""Chat lines show the @username beside a display name that differs from it."""
from __future__ import annotations

import re

from app.profiles import services as profiles
from tests.factories import make_user


def name_part(html: str) -> str:
    """The line's name, handle and separator, without the moderator tools before them."""
    return html[html.index('class="chat-name'):html.index('class="chat-text"')]


def test_a_display_name_that_is_not_the_username_shows_the_handle(app, streamer, chat_client):
    bob = make_user("bob")
    profiles.update_details(bob, "Bobby Tables", "")
    sender, watcher = chat_client("bob"), chat_client()
    sender.join("streamer")
    watcher.join("streamer")
    assert sender.send("streamer", "hello")["ok"]
    [message] = watcher.events("message")
    part = name_part(message["html"])
    assert ">Bobby Tables</button>" in part
    assert re.search(r'<span class="chat-handle">@bob</span>', part)


def test_an_escaped_display_name_keeps_the_handle(app, streamer, chat_client):
    bob = make_user("bob")
    profiles.update_details(bob, "<b>Bob</b>", "")
    sender = chat_client("bob")
    sender.join("streamer")
    assert sender.send("streamer", "hi")["ok"]
    [message] = sender.events("message")
    part = name_part(message["html"])
    assert "&lt;b&gt;Bob&lt;/b&gt;" in part and "<b>" not in part
    assert '<span class="chat-handle">@bob</span>' in part


def test_no_handle_when_the_name_is_the_username_in_any_case(app, streamer, chat_client):
    make_user("carol")
    dave = make_user("dave")
    profiles.update_details(dave, "DAVE", "")
    for name in ("carol", "dave"):
        sender = chat_client(name)
        sender.join("streamer")
        assert sender.send("streamer", "hi")["ok"]
        [message] = sender.events("message")
        assert "chat-handle" not in message["html"], name


def test_the_page_history_shows_the_handle_too(app, streamer, chat_client, client):
    bob = make_user("bob")
    profiles.update_details(bob, "Bobby Tables", "")
    sender = chat_client("bob")
    sender.join("streamer")
    assert sender.send("streamer", "from the history")["ok"]
    html = client.get("/c/streamer").get_data(as_text=True)
    line = html[html.index("from the history") - 2000:html.index("from the history")]
    assert '<span class="chat-handle">@bob</span>' in line
