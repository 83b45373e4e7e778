"""GET /api/v1/channels/<slug>/vods: published videos for everyone, private ones for the owner."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.auth import services as accounts
from tests.factories import make_user
from tests.vods.factory import make_vod


@pytest.fixture
def owner(app):
    make_user("boss", admin=True)
    make_user("viewer")
    return make_user("streamer")


def listed(client, slug="streamer"):
    response = client.get(f"/api/v1/channels/{slug}/vods")
    assert response.status_code == 200 and response.is_json
    return response.get_json()["items"]


def test_items_carry_what_a_client_needs(app, owner):
    vod = make_vod(owner, title="Speedrun night", public=True, duration=1234.5)
    [item] = listed(app.test_client())
    assert item == {
        "id": vod.id, "title": "Speedrun night", "duration": 1234.5, "visibility": "public",
        "created": item["created"], "started": item["started"], "published": item["published"],
        "hls_url": f"/vods/{vod.session_id}/master.m3u8",
        "poster_url": f"/vods/{vod.session_id}/poster.jpg",
        "url": f"/c/streamer/videos/{vod.id}", "mature": False, "content_labels": [],
    }
    assert isinstance(item["duration"], float)
    for field in ("created", "started", "published"):
        assert datetime.fromisoformat(item[field]).utcoffset() == timedelta(0)


@pytest.mark.parametrize("role, sees_private", [("owner", True), ("admin", True), ("other", False),
                                                ("anonymous", False)])
def test_private_videos_only_for_owner_and_admins(app, owner, login, role, sees_private):
    public = make_vod(owner, title="Out", public=True, objects=False)
    private = make_vod(owner, title="In", objects=False)
    client = app.test_client() if role == "anonymous" else login(
        {"owner": "streamer", "admin": "boss", "other": "viewer"}[role])
    ids = [item["id"] for item in listed(client)]
    assert ids == ([private.id, public.id] if sees_private else [public.id])


def test_untitled_videos_get_a_display_title_and_unknown_channels_404(app, owner):
    make_vod(owner, public=True, objects=False)
    [item] = listed(app.test_client())
    assert item["title"].startswith("Broadcast of ")
    response = app.test_client().get("/api/v1/channels/nobody/vods")
    assert response.status_code == 404 and response.get_json()["error"] == "Page not found"


def test_a_disabled_owners_videos_are_gone(app, owner):
    make_vod(owner, public=True, objects=False)
    accounts.set_disabled(owner, True)
    assert app.test_client().get("/api/v1/channels/streamer/vods").status_code == 404


def test_empty_list(app, owner):
    assert listed(app.test_client()) == []
