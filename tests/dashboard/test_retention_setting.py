"""Stream info → Edit: how long the channel keeps its recordings (blank = the site default)."""
import re

import pytest

from app.extensions import db
from app.models import Channel
from tests.conftest import Actions, page_text
from tests.factories import PASSWORD, make_user

HX = {"HX-Request": "true"}
BASE = {"title": "Before", "category": "0", "tags": "keep", "record": "y"}
HELP = ("Enter a whole number of days from 0 to 3650: 0 keeps recordings forever, "
        "or leave it blank for the site default.")


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


def stored(user) -> Channel:
    channel = db.session.get(Channel, user.channel.id)
    db.session.refresh(channel)
    return channel


def shown_value(html: str) -> str | None:
    match = re.search(r'<input [^>]*name="vod_retention_days"[^>]*>', html)
    assert match, html
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else None


def test_new_channels_follow_the_site_default(client, alice):
    assert stored(alice).vod_retention_days is None
    assert "<dt>Recordings kept</dt><dd>30 days (site default)</dd>" in page_text(client.get("/dashboard"))
    form = page_text(client.get("/dashboard/channel?edit=1", headers=HX))
    assert "Keep recordings for (days)" in form
    assert "Leave blank for the site default (30 days); 0 keeps them forever." in form
    assert shown_value(form) in (None, "")


def test_the_form_names_this_sites_default(make_app):
    app = make_app(VOD_RETENTION_DAYS=0)
    with app.app_context():
        make_user("alice")
    client = app.test_client()
    assert Actions(client).login("alice", PASSWORD).status_code == 303
    assert "<dd>Forever (site default)</dd>" in page_text(client.get("/dashboard"))
    assert "site default (forever)" in page_text(client.get("/dashboard/channel?edit=1", headers=HX))


@pytest.mark.parametrize("typed, days, shown", [
    ("7", 7, "7 days"),
    (" 1 ", 1, "1 day"),
    ("0", 0, "Forever"),
    ("3650", 3650, "3650 days"),
    ("", None, "30 days (site default)"),
])
@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_valid_values_are_saved(actions, client, alice, typed, days, shown, headers):
    if days is None:  # blank goes back to the default from an override
        actions.post("/dashboard/channel", {**BASE, "vod_retention_days": "12"}, token_from="/dashboard", headers=HX)
        assert stored(alice).vod_retention_days == 12
    response = actions.post("/dashboard/channel", {**BASE, "vod_retention_days": typed},
                            token_from="/dashboard", headers=headers)
    assert response.status_code == (200 if headers else 303)
    assert stored(alice).vod_retention_days == days
    page = page_text(response if headers else client.get("/dashboard"))
    assert f"<dt>Recordings kept</dt><dd>{shown}</dd>" in page
    form = page_text(client.get("/dashboard/channel?edit=1", headers=HX))
    assert shown_value(form) in ((str(days),) if days is not None else (None, ""))


@pytest.mark.parametrize("typed", ["-1", "3651", "1.5", "ten", "1e3", "\u0663", "99999999999999999999"])
@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_bad_values_rerender_the_form_and_change_nothing(actions, alice, typed, headers):
    actions.post("/dashboard/channel", {**BASE, "vod_retention_days": "14"}, token_from="/dashboard", headers=HX)
    response = actions.post("/dashboard/channel", {"title": "After", "category": "0", "tags": "new", "mature": "y",
                                                   "latency_mode": "normal", "vod_retention_days": typed},
                            token_from="/dashboard", headers=headers)
    assert response.status_code == 200
    html = page_text(response)
    assert HELP in html and 'id="vod_retention_days-error"' in html and 'aria-invalid="true"' in html
    assert shown_value(html) == typed  # what they typed stays, to correct
    channel = stored(alice)
    assert (channel.title, channel.tags, channel.mature, channel.latency_mode) == ("Before", ["keep"], False, "low")
    assert channel.vod_retention_days == 14


def test_another_fields_error_keeps_the_old_retention(actions, alice):
    actions.post("/dashboard/channel", {**BASE, "vod_retention_days": "14"}, token_from="/dashboard", headers=HX)
    response = actions.post("/dashboard/channel", {**BASE, "title": "x" * 141, "vod_retention_days": "3"},
                            token_from="/dashboard", headers=HX)
    assert "140" in page_text(response)
    assert stored(alice).vod_retention_days == 14 and stored(alice).title == "Before"


def test_a_form_without_the_field_keeps_the_setting(actions, alice):
    actions.post("/dashboard/channel", {**BASE, "vod_retention_days": "9"}, token_from="/dashboard", headers=HX)
    actions.post("/dashboard/channel", {**BASE, "title": "Renamed"}, token_from="/dashboard", headers=HX)
    channel = stored(alice)
    assert channel.title == "Renamed" and channel.vod_retention_days == 9
