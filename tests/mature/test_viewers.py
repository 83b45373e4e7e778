"""What viewers see of labelled channels elsewhere: the filter that hides them from the directory
and search (a setting), their pictures blurred until the viewer has passed the interstitial, and
the API's `mature` and `content_labels`."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from app.extensions import db
from app.mature import MATURE_COOKIE, gate
from app.models import Channel, utcnow
from tests.conftest import Actions
from tests.factories import make_category, make_user
from tests.vods.factory import make_vod

from .conftest import label, live_session

HX = {"HX-Request": "true"}


def cards(html: str) -> list[str]:
    return re.findall(r'<a class="channel-card" href="/c/([^"]+)"', html)


def result_channels(html: str) -> list[str]:
    return re.findall(r'<li><a href="/c/([^"]+)"', html)


@pytest.fixture
def shelf(app, people):
    """Four live channels: plain, labelled, mature and labelled, and mature alone; all "Night"."""
    music = make_category("Music")
    for name, mature, labels in (("plain", False, ()), ("labelled", False, ("gambling",)),
                                 ("both", True, ("violence",)), ("adults", True, ())):
        user = make_user(name)
        user.channel.title = f"Night {name}"
        user.channel.category_id = music.id
        user.channel.last_live_at = utcnow()
        label(user.channel, mature=mature, labels=labels)
        live_session(user)
    return music


def hide_labelled(client, hide: bool):
    actions = Actions(client)
    response = actions.post("/settings/content", {"hide_labelled": "y"} if hide else {})
    assert response.status_code == 303


@pytest.mark.both_databases  # the filter compares the JSON labels as text on each database
def test_a_viewer_can_hide_labelled_channels_from_the_directory_and_search(app, login, shelf):
    viewer = login("grownup")
    everything = {"plain", "labelled", "both", "adults"}
    assert set(cards(viewer.get("/directory").get_data(as_text=True))) == everything
    hide_labelled(viewer, True)
    assert cards(viewer.get("/directory").get_data(as_text=True)) == ["plain"]
    assert cards(viewer.get("/directory", headers=HX).get_data(as_text=True)) == ["plain"]  # next pages too
    assert cards(viewer.get(f"/directory/category/{shelf.slug}").get_data(as_text=True)) == ["plain"]
    assert result_channels(viewer.get("/search?q=night").get_data(as_text=True)) == ["plain"]
    suggest = viewer.get("/search?q=night", headers={**HX, "HX-Target": "search-suggest"}).get_data(as_text=True)
    assert "labelled" not in suggest and "adults" not in suggest
    assert cards(viewer.get("/").get_data(as_text=True)) == ["plain"]  # the home page's live list
    hide_labelled(viewer, False)
    assert set(cards(viewer.get("/directory").get_data(as_text=True))) == everything
    assert set(cards(viewer.get("/").get_data(as_text=True))) == everything


@pytest.mark.both_databases
def test_recently_live_channels_are_filtered_in_the_database(app, shelf):
    from app.directory import services

    db.session.execute(update(Channel).values(is_live=False))
    db.session.commit()
    shown = {channel.slug for channel in services.recently_live(hide_labelled=True)}
    assert shown == {"plain"}
    assert {channel.slug for channel in services.recently_live()} == {"plain", "labelled", "both", "adults"}


def test_the_filter_is_off_for_anonymous_visitors_and_by_default(app, client, login, shelf):
    assert len(cards(client.get("/directory").get_data(as_text=True))) == 4
    assert len(cards(login("grownup").get("/directory").get_data(as_text=True))) == 4


def blurred(html: str) -> set[str]:
    return set(re.findall(r'<a class="channel-card" href="/c/([^"]+)">\s*'
                          r'<div class="thumb thumb-c\d thumb-blur"', html))


def test_labelled_thumbnails_blur_for_anonymous_visitors_until_they_pass(app, client, shelf):
    assert blurred(client.get("/directory").get_data(as_text=True)) == {"labelled", "both", "adults"}
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, gate.ANONYMOUS))
    assert blurred(client.get("/directory").get_data(as_text=True)) == set()


def test_minors_see_them_blurred_and_adults_who_passed_do_not(app, login, shelf, people):
    assert blurred(login("kiddo").get("/directory").get_data(as_text=True)) == {"labelled", "both", "adults"}
    adult = login("grownup")
    assert blurred(adult.get("/directory").get_data(as_text=True)) == {"labelled", "both", "adults"}
    gate.remember_on_account(people["adult"])
    assert blurred(adult.get("/directory").get_data(as_text=True)) == set()


def test_a_mature_vods_poster_blurs_in_the_channels_videos(app, client, people):
    label(make_vod(people["owner"], public=True, objects=False))
    make_vod(people["owner"], public=True, objects=False)
    html = client.get("/c/maker/videos").get_data(as_text=True)
    assert html.count("thumb-blur") == 1


def test_the_api_carries_mature_and_the_labels(app, client, login, people):
    label(people["owner"].channel, labels=("violence", "gambling"))
    body = client.get("/api/v1/channels/maker").get_json()
    assert body["mature"] is True and body["content_labels"] == ["violence", "gambling"]
    assert {"slug", "title", "live", "viewers", "hls_url"} <= body.keys()  # the contract's fields stay
    plain = make_user("plain")
    assert client.get(f"/api/v1/channels/{plain.channel.slug}").get_json()["content_labels"] == []
    label(make_vod(people["owner"], public=True, objects=False), labels=("drugs",))
    make_vod(people["owner"], public=True, objects=False)
    items = client.get("/api/v1/channels/maker/vods").get_json()["items"]
    assert sorted((item["mature"], item["content_labels"]) for item in items) == [(False, []), (True, ["drugs"])]
    assert all({"id", "title", "visibility", "hls_url", "url"} <= item.keys() for item in items)


def test_the_profiles_live_preview_does_not_play_for_viewers_without_the_pass(app, client, people):
    owner = people["owner"]
    owner.profile.featured_channel_id = owner.channel.id
    label(owner.channel)
    live_session(owner)
    html = client.get("/u/maker").get_data(as_text=True)
    assert "data-live-preview" not in html and "thumb-blur" in html
