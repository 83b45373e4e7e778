"""The dashboard's live panel: status, encoder stats from Redis, and the Stop button."""
import json

import pytest

from app.extensions import db, get_redis
from app.models import Channel, StreamSession
from tests.conftest import page_text
from tests.factories import make_live, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


@pytest.fixture(autouse=True)
def no_ingest_server(monkeypatch):
    """Stop asks the ingest server to drop the publisher; here nothing listens, and that's fine."""
    import requests

    calls = []
    monkeypatch.setattr(requests, "get", lambda url, **kw: calls.append((url, kw)))
    monkeypatch.setattr(requests, "delete", lambda url, **kw: calls.append((url, kw)))
    return calls


@pytest.fixture(autouse=True)
def no_job_queue(monkeypatch):
    import app.streams.services as streams

    monkeypatch.setattr(streams, "enqueue", lambda *a, **kw: None)


def write_stats(session, **stats):
    get_redis().set(f"cascade:stream:{session.id}:stats", json.dumps(stats), ex=30)


def session_status(session_id) -> str:
    db.session.expire_all()
    return db.session.get(StreamSession, session_id).status


def test_offline_panel_in_page_and_as_fragment(client, alice):
    page = client.get("/dashboard/live").get_data(as_text=True)
    assert "<html" in page and 'id="live-status"' in page and "Offline" in page
    fragment = client.get("/dashboard/live", headers=HX)
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="live-status"')
    assert "<html" not in html and "Stop stream" not in html
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert 'hx-trigger="every 10s"' in html


def test_dashboard_page_includes_the_live_panel(client, alice):
    make_live(alice)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="live-status"' in html and "Stop stream" in html


def test_live_panel_shows_encoder_stats_and_polls(client, alice):
    session = make_live(alice)
    write_stats(session, fps=29.97, speed=0.82, bitrate={"720p": 3500, "480p": 2000, "360p": 1200},
                drop_frames=42, dup_frames=3, ladder=["720p", "480p", "360p"], preset="superfast",
                encoder="libx264", restarts=1,
                note="Encoding ran at 0.71× for 20 s, so we dropped 1080p and switched to superfast.")
    html = page_text(client.get("/dashboard/live", headers=HX))
    assert 'hx-trigger="every 3s"' in html
    assert "Live" in html and "30 fps" in html and "0.82×" in html
    assert "6,700 kbps" in html  # the sum of the rungs
    for rung, kbps in [("720p", "3,500"), ("480p", "2,000"), ("360p", "1,200")]:
        assert f"<th scope=\"row\">{rung}</th><td>{kbps} kbps</td>" in html
    assert "42" in html and "libx264" in html and "superfast" in html and "restarted 1 time" in html
    assert "we dropped 1080p and switched to superfast" in html


def test_odd_or_missing_stats_never_break_the_panel(client, alice):
    session = make_live(alice)
    html = page_text(client.get("/dashboard/live", headers=HX))
    assert "Waiting for the encoder" in html
    write_stats(session, fps="n/a", speed=None, bitrate=[{"name": "480p", "kbps": "2000"}, 7, {"x": 1}],
                ladder=[{"height": 480}, None, {"name": {"bad": 1}}], dropped=-5, note={"no": "dict"})
    response = client.get("/dashboard/live", headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert "<th scope=\"row\">480p</th><td>2,000 kbps</td>" in html
    get_redis().set(f"cascade:stream:{session.id}:stats", b"{not json", ex=30)
    assert client.get("/dashboard/live", headers=HX).status_code == 200


def test_viewer_count_in_panel(client, alice):
    make_live(alice)
    slug = alice.channel.slug
    for viewer in ("viewer-aaaa1111", "viewer-bbbb2222"):
        client.post(f"/api/v1/channels/{slug}/watch", json={"viewer": viewer})
    html = page_text(client.get("/dashboard/live", headers=HX))
    assert "<dt>Viewers</dt><dd>2</dd>" in html


def test_reconnecting_state(client, alice):
    session = make_live(alice)
    from app.streams.services import publisher_left

    publisher_left(db.session.get(StreamSession, session.id))
    html = page_text(client.get("/dashboard/live", headers=HX))
    assert "Reconnecting" in html and "Reconnect within 30 s" in html
    assert 'hx-trigger="every 3s"' in html


def test_stop_ends_the_session_and_rerenders(actions, client, alice, no_ingest_server):
    session = make_live(alice)
    response = actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="live-status"')
    assert "Your stream has stopped." in html and "Offline" in html
    assert session_status(session.id) == "ended"
    assert db.session.get(Channel, alice.channel.id).is_live is False
    assert any("drop/publisher" in url for url, _ in no_ingest_server)
    assert client.get(f"/api/v1/channels/{alice.channel.slug}").get_json()["live"] is False


def test_stop_without_htmx_redirects(actions, alice):
    session = make_live(alice)
    response = actions.post("/dashboard/live/stop", token_from="/dashboard")
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard")
    assert session_status(session.id) == "ended"


def test_stop_with_nothing_live(actions, alice, no_ingest_server):
    response = actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    assert response.status_code == 200
    assert "Nothing is live right now" in page_text(response)
    assert no_ingest_server == []


def test_stop_needs_csrf(client, alice):
    session = make_live(alice)
    response = client.post("/dashboard/live/stop", headers=HX)
    assert response.status_code == 400
    assert session_status(session.id) == "live"


@pytest.mark.parametrize("method, path", [("get", "/dashboard/live"), ("post", "/dashboard/live/stop")])
def test_anonymous_is_sent_to_login(client, method, path):
    owner = make_user("alice")
    session = make_live(owner)
    response = getattr(client, method)(path)
    if method == "get":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code in (302, 400)  # CSRF refuses a token-less POST first
    assert session_status(session.id) == "live"


def test_another_user_cannot_stop_your_stream(actions, client):
    alice = make_user("alice")
    make_user("bob")
    session = make_live(alice)
    actions.login("bob")
    response = actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    assert "Nothing is live right now" in page_text(response)  # Stop only ever acts on your own channel
    assert session_status(session.id) == "live"
    html = page_text(client.get("/dashboard/live", headers=HX))
    assert "Offline" in html and "Stop stream" not in html


def test_the_transcode_workers_own_report(client, alice):
    """The shape workers/transcode.py writes: ladder dicts with target and measured bitrates."""
    session = make_live(alice)
    write_stats(session, session_id=session.id, state="running", encoder="libx264", preset="veryfast",
                ladder=[{"name": "720p", "width": 1280, "height": 720, "fps": 30, "target_kbps": 3500, "kbps": 3320.4},
                        {"name": "480p", "width": 854, "height": 480, "fps": 30, "target_kbps": 2000, "kbps": None}],
                fps=30.0, speed=1.02, speed_avg=1.0, frame=900, drop_frames=0, dup_frames=0, restarts=0,
                headroom_step=0, note="", ffmpeg_pid=1234, updated_at="2026-11-25T03:00:00+00:00")
    html = page_text(client.get("/dashboard/live", headers=HX))
    assert '<th scope="row">720p</th><td class="muted">3,500 kbps</td><td>3,320 kbps</td>' in html
    assert '<th scope="row">480p</th><td class="muted">2,000 kbps</td><td>—</td>' in html
    assert "1.02×" in html and "veryfast" in html and "We adjusted" not in html
    assert "3,320 kbps</dd>" in html  # the total counts only measured rungs
