"""Who may use the new routes: Continue on the interstitial, the viewer's content settings, and a
VOD's labels in the video manager (role × route)."""
from __future__ import annotations

import pytest

from app.mature import MATURE_COOKIE
from tests.conftest import csrf_from
from tests.vods.factory import make_vod

from .conftest import label

ROLES = ["anonymous", "minor", "adult", "owner", "admin"]
USERNAMES = {"minor": "kiddo", "adult": "grownup", "owner": "maker", "admin": "boss"}


@pytest.fixture
def browser_of(client, login, people):
    def open_as(role: str):
        return client if role == "anonymous" else login(USERNAMES[role])
    return open_as


@pytest.mark.parametrize("role, status", [("anonymous", 303), ("minor", 403), ("adult", 303), ("owner", 303),
                                          ("admin", 303)])
def test_continue(app, browser_of, people, role, status):
    label(people["owner"].channel)
    browser = browser_of(role)
    html = browser.get("/c/maker").get_data(as_text=True)
    response = browser.post("/mature/continue", data={"csrf_token": csrf_from(html), "next": "/c/maker"})
    assert response.status_code == status
    assert (browser.get_cookie(MATURE_COOKIE) is not None) == (status == 303)


@pytest.mark.parametrize("role", ROLES)
def test_continue_is_post_only(app, browser_of, role):
    assert browser_of(role).get("/mature/continue").status_code == 405


@pytest.mark.parametrize("role, status", [("anonymous", 302), ("minor", 200), ("adult", 200), ("owner", 200),
                                          ("admin", 200)])
def test_content_settings(app, browser_of, role, status):
    response = browser_of(role).get("/settings/content")
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role, status", [("anonymous", 302), ("minor", 404), ("adult", 404), ("owner", 200),
                                          ("admin", 404)])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_vods_labels_are_its_owners_alone(app, browser_of, people, role, status, method):
    """The manager is the owner's own library: an admin changes a VOD's labels from nowhere here."""
    vod = make_vod(people["owner"], objects=False)
    browser = browser_of(role)
    url = f"/dashboard/videos/{vod.id}/content"
    if method == "GET":
        response = browser.get(url)
    else:
        token = csrf_from(browser.get("/login" if role == "anonymous" else "/settings/content").get_data(as_text=True))
        response = browser.post(url, data={"csrf_token": token, "mature": "y"})
        if role == "owner":
            status = 303
    assert response.status_code == status
