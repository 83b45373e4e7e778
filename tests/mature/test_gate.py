"""The interstitial on a mature channel's and VOD's watch pages, its Continue and the pass it
leaves (a signed cookie for anonymous visitors, the account for signed-in adults), and signed-in
minors, who never pass: not on the page, not with a cookie from before they signed in."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.mature import MATURE_COOKIE, gate
from tests.conftest import Actions, csrf_from
from tests.factories import PASSWORD
from tests.vods.factory import make_vod

from .conftest import label

CONTINUE = "data-mature-continue"
PLAYER = "data-player-live"
VOD_PLAYER = "data-vod-player"
TITLE = "This stream is intended for mature audiences"


def continue_from(client, page: str):
    """Press Continue on `page` the way the browser does; the response (a 303 when passed)."""
    html = client.get(page).get_data(as_text=True)
    return client.post("/mature/continue", data={"csrf_token": csrf_from(html), "next": page})


def test_a_mature_channel_shows_the_interstitial_and_its_labels_instead_of_the_player(app, client, people):
    label(people["owner"].channel)
    html = client.get("/c/maker").get_data(as_text=True)
    assert TITLE in html and "Gambling" in html and "Profanity or Vulgarity" in html
    assert CONTINUE in html and "Go back" in html
    assert PLAYER not in html and "data-hls-url" not in html


def test_continue_sets_a_signed_strictly_necessary_cookie_and_the_player_shows(app, client, people):
    label(people["owner"].channel)
    response = continue_from(client, "/c/maker")
    assert response.status_code == 303 and response.headers["Location"] == "/c/maker"
    cookie = client.get_cookie(MATURE_COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert gate.cookie_user_id(app, cookie.value) == gate.ANONYMOUS
    assert cookie.expires is not None  # kept: a visitor is not asked on every visit
    html = client.get("/c/maker").get_data(as_text=True)
    assert PLAYER in html and TITLE not in html
    # The labels stay on the page as a notice.
    assert 'id="content-notice"' in html and "Gambling" in html


def test_a_forged_or_foreign_cookie_is_no_pass(app, client, people):
    label(people["owner"].channel)
    client.set_cookie(MATURE_COOKIE, "0")
    assert TITLE in client.get("/c/maker").get_data(as_text=True)
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, people["adult"].id))  # someone else's pass
    assert TITLE in client.get("/c/maker").get_data(as_text=True)


def test_continue_goes_back_only_to_this_site(app, client, people):
    label(people["owner"].channel)
    html = client.get("/c/maker").get_data(as_text=True)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post("/mature/continue", data={"csrf_token": csrf_from(html), "next": target})
        assert response.status_code == 303 and response.headers["Location"] == "/"


def test_continue_needs_the_forms_token(app, client, people):
    label(people["owner"].channel)
    assert client.post("/mature/continue", data={"next": "/c/maker"}).status_code in (400, 403)
    assert client.get_cookie(MATURE_COOKIE) is None


def test_a_signed_in_adult_is_remembered_on_the_account_in_every_browser(app, login, people):
    label(people["owner"].channel)
    first = login("grownup")
    assert continue_from(first, "/c/maker").status_code == 303
    db.session.refresh(people["adult"])
    assert people["adult"].mature_passed_at is not None
    second = login("grownup")  # another browser: no cookie yet
    response = second.get("/c/maker")
    html = response.get_data(as_text=True)
    assert PLAYER in html and TITLE not in html
    # The page gives this browser the cookie the playlist check reads, minted for this account.
    assert gate.cookie_user_id(app, second.get_cookie(MATURE_COOKIE).value) == people["adult"].id


def test_an_anonymous_pass_does_not_let_a_signed_in_member_through(app, client, people):
    label(people["owner"].channel)
    continue_from(client, "/c/maker")
    assert Actions(client).login("grownup", PASSWORD).status_code == 303
    assert TITLE in client.get("/c/maker").get_data(as_text=True)


def test_a_signed_in_minor_never_passes(app, client, people):
    label(people["owner"].channel)
    continue_from(client, "/c/maker")  # passed while signed out, in the same browser
    assert client.get_cookie(MATURE_COOKIE) is not None
    assert Actions(client).login("kiddo", PASSWORD).status_code == 303
    response = client.get("/c/maker")
    html = response.get_data(as_text=True)
    assert TITLE in html and "members under 18" in html and CONTINUE not in html and PLAYER not in html
    assert client.get_cookie(MATURE_COOKIE) is None  # the page took the browser's pass away
    refused = client.post("/mature/continue", data={"csrf_token": csrf_from(html), "next": "/c/maker"})
    assert refused.status_code == 403 and "under 18" in refused.get_data(as_text=True)
    assert client.get_cookie(MATURE_COOKIE) is None
    db.session.refresh(people["minor"])
    assert people["minor"].mature_passed_at is None
    # Nor is a pass minted for the minor's own account accepted, if one were ever forged.
    assert TITLE in client.get("/c/maker").get_data(as_text=True)


def test_a_labelled_channel_that_is_not_mature_shows_its_labels_without_a_gate(app, client, people):
    label(people["owner"].channel, mature=False, labels=("violence",))
    html = client.get("/c/maker").get_data(as_text=True)
    assert PLAYER in html and TITLE not in html
    assert 'id="content-notice"' in html and "Significant Violence" in html


def test_an_unlabelled_channel_shows_neither(app, client, people):
    html = client.get("/c/maker").get_data(as_text=True)
    assert PLAYER in html and TITLE not in html and 'id="content-notice"' not in html


def test_the_embed_links_to_the_site_instead_of_continuing_in_a_frame(app, client, people):
    label(people["owner"].channel)
    html = client.get("/embed/maker").get_data(as_text=True)
    assert TITLE in html and CONTINUE not in html and PLAYER not in html
    assert "http://localhost/c/maker" in html


@pytest.mark.parametrize("who", ["anonymous", "minor"])
def test_a_mature_vods_watch_page_is_gated_too(app, client, login, people, who):
    vod = label(make_vod(people["owner"], public=True, objects=False))
    page = f"/c/maker/videos/{vod.id}"
    browser = client if who == "anonymous" else login("kiddo")
    html = browser.get(page).get_data(as_text=True)
    assert "This video is intended for mature audiences" in html and VOD_PLAYER not in html
    if who == "anonymous":
        continue_from(browser, page)
        html = browser.get(page).get_data(as_text=True)
        assert VOD_PLAYER in html and "intended for mature audiences" not in html
    else:
        assert CONTINUE not in html


def test_the_settings_page_says_where_the_viewer_stands(app, login, people):
    assert "until you turn 18" in login("kiddo").get("/settings/content").get_data(as_text=True)
    adult = login("grownup")
    assert "ask you to confirm" in adult.get("/settings/content").get_data(as_text=True)
    label(people["owner"].channel)
    continue_from(adult, "/c/maker")
    assert "play without asking again" in adult.get("/settings/content").get_data(as_text=True)
