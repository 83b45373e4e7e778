"""Inline editing of title, category, tags and stream settings with htmx (and without)."""
import re

import pytest

from app.extensions import db
from app.models import Channel
from tests.conftest import page_text
from tests.factories import make_category, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


def checked_latency(html: str) -> list[str]:
    """The values of the latency radios the form shows as picked."""
    radios = re.findall(r'<input [^>]*name="latency_mode"[^>]*>', html)
    assert len(radios) == 2, html
    return [re.search(r'value="(\w+)"', radio).group(1) for radio in radios if re.search(r"\bchecked\b", radio)]


def channel_of(user) -> Channel:
    channel = db.session.get(Channel, user.channel.id)
    db.session.refresh(channel)
    return channel


def test_edit_button_swaps_in_the_form_fragment(client, alice):
    response = client.get("/dashboard/channel?edit=1", headers=HX)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="channel-info"')
    assert 'name="title"' in html and "<html" not in html


def test_fragment_url_without_htmx_serves_the_page(client, alice):
    html = client.get("/dashboard/channel?edit=1").get_data(as_text=True)
    assert "<html" in html and 'name="title"' in html


def test_save_with_htmx_returns_view_fragment(actions, alice):
    music = make_category("Music")
    response = actions.post("/dashboard/channel", {
        "title": "  Synth   night  ", "category": str(music.id), "tags": "Chill, #synthwave, chill, lo fi"},
        token_from="/dashboard", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="channel-info"')
    assert "Synth night" in html and "synthwave" in html
    channel = channel_of(alice)
    assert channel.title == "Synth night"
    assert channel.category_id == music.id
    assert channel.tags == ["chill", "synthwave", "lo-fi"]
    assert channel.mature is False and channel.record is False  # unchecked boxes mean off


def test_mature_and_record_flags(actions, alice):
    assert channel_of(alice).record is True  # recording is on for new channels
    actions.post("/dashboard/channel", {"title": "", "category": "0", "tags": "", "mature": "y", "record": "y"},
                 token_from="/dashboard", headers=HX)
    channel = channel_of(alice)
    assert channel.mature is True and channel.record is True


def test_latency_is_low_until_changed(client, alice):
    assert channel_of(alice).latency_mode == "low"
    html = page_text(client.get("/dashboard"))
    assert "<dt>Latency</dt><dd>Low</dd>" in html
    form = client.get("/dashboard/channel?edit=1", headers=HX).get_data(as_text=True)
    assert checked_latency(form) == ["low"]
    assert "from the next time you go live" in form


def test_latency_normal_with_htmx(actions, alice):
    response = actions.post("/dashboard/channel", {"title": "", "category": "0", "tags": "", "latency_mode": "normal"},
                            token_from="/dashboard", headers=HX)
    assert response.status_code == 200
    assert "<dt>Latency</dt><dd>Normal</dd>" in page_text(response)
    assert channel_of(alice).latency_mode == "normal"


def test_latency_normal_without_htmx(actions, client, alice):
    response = actions.post("/dashboard/channel", {"title": "", "category": "0", "tags": "", "latency_mode": "normal"},
                            token_from="/dashboard")
    assert response.status_code == 303
    assert channel_of(alice).latency_mode == "normal"
    form = client.get("/dashboard/channel?edit=1").get_data(as_text=True)
    assert checked_latency(form) == ["normal"]


def test_form_without_latency_keeps_it(actions, alice):
    actions.post("/dashboard/channel", {"title": "", "category": "0", "tags": "", "latency_mode": "normal"},
                 token_from="/dashboard", headers=HX)
    actions.post("/dashboard/channel", {"title": "Still normal", "category": "0", "tags": ""},
                 token_from="/dashboard", headers=HX)
    channel = channel_of(alice)
    assert channel.title == "Still normal" and channel.latency_mode == "normal"


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_bad_latency_rerenders_form_and_changes_nothing(actions, alice, headers):
    music = make_category("Music")
    actions.post("/dashboard/channel", {"title": "Before", "category": "0", "tags": "keep", "record": "y"},
                 token_from="/dashboard", headers=HX)
    response = actions.post("/dashboard/channel", {
        "title": "After", "category": str(music.id), "tags": "new", "mature": "y", "latency_mode": "fast"},
        token_from="/dashboard", headers=headers)
    assert response.status_code == 200
    html = page_text(response)
    assert "Pick low or normal latency." in html
    assert 'id="latency_mode-error"' in html and 'name="title"' in html
    channel = channel_of(alice)
    assert (channel.title, channel.category_id, channel.tags) == ("Before", None, ["keep"])
    assert channel.mature is False and channel.record is True and channel.latency_mode == "low"


def test_save_without_htmx_redirects(actions, alice):
    response = actions.post("/dashboard/channel", {"title": "Hello", "category": "0", "tags": ""},
                            token_from="/dashboard")
    assert response.status_code == 303
    assert channel_of(alice).title == "Hello"


@pytest.mark.parametrize("form, message", [
    ({"title": "x" * 141, "category": "0", "tags": ""}, "140"),
    ({"title": "ok", "category": "0", "tags": "good, b@d"}, "isn't a valid tag"),
    ({"title": "ok", "category": "0", "tags": ",".join(f"t{i}" for i in range(11))}, "at most 10 tags"),
    ({"title": "ok", "category": "999999", "tags": ""}, "Pick a category from the list."),
])
def test_bad_input_rerenders_form_and_changes_nothing(actions, alice, form, message):
    actions.post("/dashboard/channel", {"title": "Before", "category": "0", "tags": "keep"},
                 token_from="/dashboard", headers=HX)
    response = actions.post("/dashboard/channel", form, token_from="/dashboard", headers=HX)
    assert response.status_code == 200
    html = page_text(response)
    assert message in html
    assert 'name="title"' in html  # the form is back, with the reason
    channel = channel_of(alice)
    assert channel.title == "Before" and channel.tags == ["keep"] and channel.category_id is None


def test_titles_are_escaped_everywhere(client, actions, alice):
    actions.post("/dashboard/channel", {"title": "<script>alert(1)</script>", "category": "0", "tags": ""},
                 token_from="/dashboard", headers=HX)
    for path in ("/dashboard", "/c/alice", "/search?q=script"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_htmx_post_without_csrf_header_is_refused(client, alice):
    response = client.post("/dashboard/channel", data={"title": "x", "category": "0", "tags": ""}, headers=HX)
    assert response.status_code == 400
    assert channel_of(alice).title == ""


def test_htmx_post_with_csrf_header_is_accepted(client, actions, alice):
    token = actions.csrf("/dashboard")
    response = client.post("/dashboard/channel", data={"title": "Via header", "category": "0", "tags": ""},
                           headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert channel_of(alice).title == "Via header"
