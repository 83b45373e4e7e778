"""Public pages, error pages, the JSON API and the health check."""
import re

import pytest

from app.extensions import db
from tests.factories import make_category, make_live, make_user


def test_home_has_an_honest_empty_state(client):
    html = client.get("/").get_data(as_text=True)
    assert "Nobody is live right now" in html


def test_home_lists_live_channels(client):
    alice = make_user("alice")
    alice.channel.title = "Morning coffee"
    make_live(alice)
    make_user("bob")
    html = client.get("/").get_data(as_text=True)
    assert "Morning coffee" in html and "Nobody is live" not in html
    assert "/c/bob" not in html


def test_disabled_users_live_channel_is_hidden(client):
    alice = make_user("alice")
    make_live(alice)
    alice.disabled = True
    db.session.commit()
    assert "/c/alice" not in client.get("/").get_data(as_text=True)
    assert client.get("/c/alice").status_code == 404
    assert client.get("/u/alice").status_code == 404


def test_channel_page_offline_state(client):
    make_user("alice")
    html = client.get("/c/Alice").get_data(as_text=True)
    assert "alice is offline" in html


def test_profile_page_escapes_bio(client):
    alice = make_user("alice")
    alice.profile.bio = "<img src=x onerror=alert(1)> hi"
    db.session.commit()
    html = client.get("/u/ALICE").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; hi" in html


def test_directory_and_categories(client):
    make_category("Retro Games")
    html = client.get("/directory").get_data(as_text=True)
    assert "No one is live" in html and "Retro Games" in html


def test_search_finds_channels_users_and_categories(client):
    alice = make_user("alice")
    alice.channel.title = "Speedrun practice"
    make_user("bob")
    make_category("Speedrunning")
    db.session.commit()
    html = client.get("/search?q=speedrun").get_data(as_text=True)
    assert "Speedrun practice" in html and "Speedrunning" in html and "@bob" not in html
    html = client.get("/search?q=BO").get_data(as_text=True)
    assert "@bob" in html


def test_search_treats_like_wildcards_literally(client):
    make_user("alice")
    assert "No results" in client.get("/search?q=%25").get_data(as_text=True)
    assert "No results" in client.get("/search?q=_").get_data(as_text=True)


def test_search_page_and_fragment(client):
    make_user("alice")
    page = client.get("/search?q=ali").get_data(as_text=True)
    fragment = client.get("/search?q=ali", headers={"HX-Request": "true"})
    assert "<html" in page
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="search-results"') and "<html" not in html
    assert "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize("path", ["/nothing-here", "/c/nobody", "/u/nobody"])
def test_404_pages_are_in_site_look(client, path):
    response = client.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html and 'class="site-header"' in html


def test_403_and_500_pages_are_in_site_look(make_app):
    from flask import abort

    app = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.route("/_forbidden")
    def forbidden():
        abort(403)

    @app.route("/_boom")
    def boom():
        raise RuntimeError("kaboom")

    client = app.test_client()
    response = client.get("/_forbidden")
    assert response.status_code == 403 and "Not allowed" in response.get_data(as_text=True)
    response = client.get("/_boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something broke" in html and 'class="site-header"' in html and "kaboom" not in html


def test_api_channel_offline(client):
    music = make_category("Music")
    alice = make_user("alice")
    alice.channel.title = "Chill"
    alice.channel.category = music
    alice.channel.tags = ["lofi"]
    db.session.commit()
    body = client.get("/api/v1/channels/alice").get_json()
    assert body["slug"] == "alice" and body["title"] == "Chill"
    assert body["live"] is False and body["viewers"] == 0 and body["hls_url"] is None
    assert body["category"] == "Music" and body["tags"] == ["lofi"]


def test_api_unknown_channel_is_json_404(client):
    response = client.get("/api/v1/channels/nobody")
    assert response.status_code == 404 and response.get_json()["error"] == "Page not found"


def test_healthz_ok_when_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_503_when_redis_is_down(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["redis"].startswith("error") and body["database"] == "ok"


def test_static_urls_carry_a_content_hash(app, client):
    from flask import url_for

    with app.test_request_context():
        url = url_for("static", filename="css/site.css")
        missing = url_for("static", filename="nope.css")
    assert re.fullmatch(r"/static/css/site\.css\?v=[0-9a-f]{12}", url)
    assert missing == "/static/nope.css"
    assert url in client.get("/").get_data(as_text=True)
