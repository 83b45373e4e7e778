"""Stream keys: shown once, stored hashed, rotation kills the old key at once."""
import re

import pytest
from sqlalchemy import select

from app.channels import services as channels
from app.extensions import db
from app.models import Channel, StreamSession, hash_stream_key
from tests.factories import make_user

KEY_RE = re.compile(r'id="stream-key-value" type="text" value="([^"]+)"')


def create_key(actions, *, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    response = actions.post("/dashboard/stream-key", token_from="/dashboard", headers=headers)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return KEY_RE.search(html).group(1), html, response


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


def test_dashboard_shows_rtmp_url(client, alice):
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'value="rtmp://localhost:1935/live"' in html


def test_dashboard_uses_public_host_when_configured(make_app):
    from tests.conftest import Actions

    app = make_app(PUBLIC_HOST="live.example.org", RTMP_PORT=1936)
    with app.app_context():
        make_user("alice")
        actions = Actions(app.test_client())
        actions.login("alice")
        assert "rtmp://live.example.org:1936/live" in actions.client.get("/dashboard").get_data(as_text=True)


def test_key_is_shown_once_and_only_its_hash_is_stored(client, actions, alice):
    key, html, response = create_key(actions)
    assert response.headers["Cache-Control"] == "no-store"
    assert "shown only this once" in html
    assert len(key) > 40
    channel = db.session.get(Channel, alice.channel.id)
    assert channel.stream_key_hash == hash_stream_key(key)
    assert key not in channel.stream_key_hash
    assert channel.check_stream_key(key)
    again = client.get("/dashboard").get_data(as_text=True)
    assert key not in again
    assert "can't show it again" in again


def test_htmx_rotation_returns_only_the_fragment(actions, alice):
    key, html, response = create_key(actions, htmx=True)
    assert html.lstrip().startswith('<div id="stream-key"')
    assert "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_plain_post_rotation_returns_the_whole_page(actions, alice):
    _, html, _ = create_key(actions)
    assert "<html" in html and 'id="stream-key"' in html


def test_rotation_invalidates_the_old_key_at_once(actions, alice):
    first, _, _ = create_key(actions)
    second, _, _ = create_key(actions, htmx=True)
    assert first != second
    channel = db.session.get(Channel, alice.channel.id)
    db.session.refresh(channel)
    assert not channel.check_stream_key(first)
    assert channel.check_stream_key(second)


def test_key_names_its_channel_for_constant_time_lookup(actions, alice):
    key, _, _ = create_key(actions)
    assert Channel.id_from_stream_key(key) == alice.channel.id
    assert Channel.id_from_stream_key("garbage") is None
    assert Channel.id_from_stream_key("live_x_abc") is None


def test_one_users_key_does_not_open_another_channel(app, alice):
    bob = make_user("bob")
    key = channels.rotate_stream_key(alice.channel)
    assert not bob.channel.check_stream_key(key)


def test_rotation_needs_csrf(client, alice):
    assert client.post("/dashboard/stream-key").status_code == 400
    assert client.post("/dashboard/stream-key", headers={"HX-Request": "true"}).status_code == 400
    assert db.session.get(Channel, alice.channel.id).stream_key_hash is None


def test_rotation_needs_login(client):
    response = client.post("/dashboard/stream-key")
    assert response.status_code in (302, 400)


HOOK = {"X-Hook-Secret": "test-hook-secret"}


def publish(client, key, clientid="7"):
    """What nginx-rtmp's publish callback posts (tests/hooks has the whole form)."""
    return client.post("/hooks/rtmp/publish", headers=HOOK,
                       data={"call": "publish", "app": "live", "name": key, "clientid": clientid})


def test_rotating_while_live_drops_the_old_keys_publisher(client, actions, alice, ingest_control):
    old, _, _ = create_key(actions)
    name = publish(client, old).headers["Location"]
    new, _, _ = create_key(actions, htmx=True)
    assert ingest_control == [f"/control/drop/publisher?app=live&name={name}"]
    assert publish(client, old, clientid="8").status_code == 403  # OBS reconnecting with the old key
    # The ingest server reports the drop; the creator pastes the new key within the grace and the
    # broadcast carries on (same session, same URLs, one recording).
    client.post("/hooks/rtmp/publish_done", headers=HOOK, data={"call": "publish_done", "app": "live", "name": name})
    resumed = publish(client, new, clientid="9")
    assert resumed.status_code == 302 and resumed.headers["Location"] == name
    db.session.expire_all()
    assert db.session.scalars(select(StreamSession)).one().status == "live"


def test_rotating_while_offline_or_reconnecting_asks_the_ingest_server_nothing(client, actions, alice, ingest_control):
    create_key(actions)
    key, _, _ = create_key(actions)
    name = publish(client, key).headers["Location"]
    client.post("/hooks/rtmp/publish_done", headers=HOOK, data={"call": "publish_done", "app": "live", "name": name})
    create_key(actions)
    assert ingest_control == []
