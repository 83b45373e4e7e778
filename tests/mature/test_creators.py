"""Creators set the mature flag and content labels: on the channel in the dashboard's Stream info,
on each VOD in the video manager; a new VOD starts with its channel's."""
from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.mature import MATURE_COOKIE, gate
from app.mature.services import inherited_content
from app.models import VOD, Channel
from tests.conftest import Actions, page_text
from tests.factories import PASSWORD
from tests.vods.factory import ended_session, make_vod
from workers.vod import Rendition, VodBuild

from .conftest import label

HX = {"HX-Request": "true"}
INFO = {"title": "", "category": "0", "tags": "", "record": "y"}


def channel_of(user) -> Channel:
    channel = db.session.get(Channel, user.channel.id)
    db.session.refresh(channel)
    return channel


def as_user(client, username: str) -> Actions:
    actions = Actions(client)
    assert actions.login(username, PASSWORD).status_code == 303
    return actions


def test_the_stream_info_form_offers_every_label(app, client, people):
    as_user(client, "maker")
    html = client.get("/dashboard/channel?edit=1", headers=HX).get_data(as_text=True)
    assert len(re.findall(r'<input [^>]*name="content_labels"[^>]*type="checkbox"|'
                          r'<input [^>]*type="checkbox"[^>]*name="content_labels"', html)) == 6
    assert "Significant Violence" in html and "Mature content (18+)" in html


@pytest.mark.parametrize("htmx", [True, False])
def test_a_creator_labels_the_channel_and_marks_it_mature(app, client, people, htmx):
    actions = as_user(client, "maker")
    response = actions.post("/dashboard/channel", {**INFO, "mature": "y", "content_labels": ["violence", "gambling"]},
                            token_from="/dashboard", headers=HX if htmx else {})
    assert response.status_code == (200 if htmx else 303)
    channel = channel_of(people["owner"])
    assert channel.mature is True and channel.content_labels == ["gambling", "violence"]
    html = page_text(client.get("/dashboard"))
    assert "Mature (18+)" in html and "Significant Violence" in html
    # Marking it mature passed the owner (their dashboard preview plays its playlists), and this
    # browser gets the pass the playlist check reads with the answer, not at the next page load.
    db.session.refresh(people["owner"])
    assert people["owner"].mature_passed_at is not None
    passes = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{MATURE_COOKIE}=")]
    assert len(passes) == 1
    assert gate.cookie_user_id(app, passes[0].split(";")[0].split("=", 1)[1]) == people["owner"].id
    # Unticked boxes take the labels off again.
    actions.post("/dashboard/channel", INFO, token_from="/dashboard", headers=HX)
    channel = channel_of(people["owner"])
    assert channel.mature is False and channel.content_labels == []


def test_an_unknown_label_is_refused_and_nothing_changes(app, client, people):
    actions = as_user(client, "maker")
    response = actions.post("/dashboard/channel", {**INFO, "title": "New", "content_labels": ["gambling", "nudity"]},
                            token_from="/dashboard", headers=HX)
    assert response.status_code == 200 and "Unknown content label" in page_text(response)
    channel = channel_of(people["owner"])
    assert channel.title == "" and channel.content_labels == []


def test_a_minor_cannot_mark_a_channel_mature(app, client, people):
    actions = as_user(client, "kiddo")
    response = actions.post("/dashboard/channel", {**INFO, "mature": "y"}, token_from="/dashboard", headers=HX)
    assert response.status_code == 200 and "under 18" in page_text(response)
    assert channel_of(people["minor"]).mature is False
    db.session.refresh(people["minor"])
    assert people["minor"].mature_passed_at is None


def test_a_new_vod_starts_with_its_channels_flag_and_labels(app, people, tmp_path):
    channel = label(people["owner"].channel, labels=("drugs",))
    session = ended_session(people["owner"])
    details = {"channel_id": channel.id, "title": "Night", "started_at": session.started_at,
               **inherited_content(channel)}
    vod_id = VodBuild(session.id, None).record(details, 12.0, Rendition("720p", tmp_path, []), {},  # type: ignore[arg-type]
                                                has_poster=False, has_cues=False)
    vod = db.session.get(VOD, vod_id)
    assert vod.mature is True and vod.content_labels == ["drugs"]
    # The VOD keeps its own: the channel's later changes are not the recording's.
    label(channel, mature=False, labels=())
    db.session.refresh(vod)
    assert vod.mature is True and vod.content_labels == ["drugs"]


@pytest.mark.parametrize("htmx", [True, False])
def test_a_creator_changes_a_vods_labels_in_the_manager(app, client, people, htmx):
    vod = make_vod(people["owner"], objects=False)
    actions = as_user(client, "maker")
    form = client.get(f"/dashboard/videos/{vod.id}/content", headers=HX if htmx else {})
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="content_labels"' in html and 'name="mature"' in html
    assert html.lstrip().startswith("<li") if htmx else "<html" in html
    response = actions.post(f"/dashboard/videos/{vod.id}/content", {"mature": "y", "content_labels": ["sexual_themes"]},
                            token_from="/dashboard/videos", headers=HX if htmx else {})
    assert response.status_code == (200 if htmx else 303)
    db.session.refresh(vod)
    assert vod.mature is True and vod.content_labels == ["sexual_themes"]
    row = page_text(client.get("/dashboard/videos"))
    assert "Mature (18+)" in row and "Sexual Themes" in row


def test_a_vods_labels_refuse_unknown_keys(app, client, people):
    vod = make_vod(people["owner"], objects=False)
    actions = as_user(client, "maker")
    response = actions.post(f"/dashboard/videos/{vod.id}/content", {"content_labels": ["bogus"]},
                            token_from="/dashboard/videos", headers=HX)
    assert response.status_code == 200 and "Unknown content label" in page_text(response)
    db.session.refresh(vod)
    assert vod.content_labels == []
