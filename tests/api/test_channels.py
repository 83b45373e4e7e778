"""GET /api/v1/channels/<slug> and the watch heartbeat: where the channel's stream is (offline,
starting, live, reconnecting) and what the live runtime gave it, through the real stream services."""
import pytest

from app.channels import services as channels
from app.extensions import db
from app.models import StreamSession
from app.streams import services as streams
from tests.factories import beat, make_live, make_user

# What a live host stores (workers/transcode.py save_renditions): the API shows viewers the first five.
LADDER = [
    {"name": "720p", "width": 1280, "height": 720, "fps": 30, "video_kbps": 2800, "maxrate_kbps": 2996,
     "bufsize_kbps": 5600, "playlist": "720p/index.m3u8", "encoder": "libx264", "preset": "veryfast",
     "headroom_step": 1, "note": "dropped 1080p for headroom", "delivery": "ll-hls"},
    {"name": "360p", "width": 640, "height": 360, "fps": 30, "video_kbps": 800, "maxrate_kbps": 856,
     "bufsize_kbps": 1600, "playlist": "360p/index.m3u8", "encoder": "libx264", "preset": "veryfast",
     "headroom_step": 1, "note": "dropped 1080p for headroom", "delivery": "ll-hls"},
]
SHOWN = [{"name": "720p", "width": 1280, "height": 720, "fps": 30, "kbps": 2800},
         {"name": "360p", "width": 640, "height": 360, "fps": 30, "kbps": 800}]


@pytest.fixture
def stream_key(app):
    return channels.rotate_stream_key(make_user("alice").channel)


@pytest.fixture
def no_jobs(monkeypatch):
    """No worker runs here: leaving and ending a session enqueue jobs we do not follow."""
    monkeypatch.setattr(streams, "enqueue", lambda *args, **kwargs: None)
    monkeypatch.setattr(streams, "enqueue_in", lambda *args, **kwargs: None)


def publish(key: str) -> StreamSession:
    """What the publish hook does: a session opens; the channel is not announced yet."""
    return streams.go_live(key, ingest="nginx", client_id="7")


def take(session: StreamSession, mode: str = "reduced", renditions=None) -> None:
    """What a live host does when it takes the session."""
    assert streams.claim_session(session.id, host="live-1", token=1, mode=mode, reason="busy host",
                                 renditions=LADDER if renditions is None else renditions)


def status_of(client, slug="alice") -> dict:
    response = client.get(f"/api/v1/channels/{slug}")
    assert response.status_code == 200
    return response.get_json()


def test_offline(client, stream_key):
    body = status_of(client)
    assert body == {"slug": "alice", "title": body["title"], "live": False, "viewers": 0, "hls_url": None,
                    "status": "offline", "mode": None, "renditions": [], "owner": "alice",
                    "category": None, "tags": [], "live_since": None, "mature": False, "content_labels": []}


def test_starting_until_playable(client, stream_key):
    session = publish(stream_key)
    body = status_of(client)
    assert body["status"] == "starting"
    assert body["live"] is False and body["hls_url"] is None and body["viewers"] == 0
    assert body["mode"] is None and body["renditions"] == []

    take(session)
    body = status_of(client)
    assert body["status"] == "starting" and body["live"] is False and body["hls_url"] is None
    assert body["mode"] == "reduced" and body["renditions"] == SHOWN


def test_live_once_playable(client, stream_key):
    session = publish(stream_key)
    take(session, mode="ladder")
    assert streams.mark_playable(session.id, 1)
    body = status_of(client)
    assert body["status"] == "live" and body["live"] is True
    assert body["hls_url"] == f"/hls/{session.internal_name}/master.m3u8"
    assert body["mode"] == "ladder" and body["renditions"] == SHOWN
    assert body["live_since"] is not None


def test_live_from_the_factory(app, client):
    session = make_live(make_user("bob"))
    body = status_of(client, "bob")
    assert body["status"] == "live" and body["live"] is True
    assert body["hls_url"] == f"/hls/{session.internal_name}/master.m3u8"
    assert body["mode"] is None and body["renditions"] == []


def test_passthrough_renditions_may_lack_a_size(client, stream_key):
    session = publish(stream_key)
    take(session, mode="passthrough", renditions=[{"name": "source", "fps": 60, "video_kbps": 6000,
                                                   "delivery": "hls"}])
    streams.mark_playable(session.id, 1)
    body = status_of(client)
    assert body["mode"] == "passthrough"
    assert body["renditions"] == [{"name": "source", "width": None, "height": None, "fps": 60, "kbps": 6000}]


def test_reconnecting_resuming_and_ending(client, stream_key, no_jobs):
    session = publish(stream_key)
    take(session)
    streams.mark_playable(session.id, 1)
    streams.publisher_left(session)
    body = status_of(client)
    assert body["status"] == "reconnecting"
    assert body["live"] is False and body["hls_url"] is None and body["viewers"] == 0
    assert body["mode"] == "reduced" and body["renditions"] == SHOWN

    # The publisher comes back within the grace period: the same session, starting again until its
    # host says it is playable.
    assert publish(stream_key).id == session.id
    assert status_of(client)["status"] == "starting"
    streams.mark_playable(session.id, 1)
    assert status_of(client)["status"] == "live"

    streams.end_session(db.session.get(StreamSession, session.id))
    body = status_of(client)
    assert body["status"] == "offline" and body["live"] is False
    assert body["mode"] is None and body["renditions"] == []


def test_the_heartbeat_answers_with_the_same_status(client, stream_key):
    viewer = beat(channels.channel_by_slug("alice"), "viewer-aaaa")
    assert client.post("/api/v1/channels/alice/watch", json=viewer).get_json()["status"] == "offline"
    session = publish(stream_key)
    body = client.post("/api/v1/channels/alice/watch", json=viewer).get_json()
    assert body["status"] == "starting" and body["live"] is False and body["viewers"] == 0
    take(session)
    streams.mark_playable(session.id, 1)
    body = client.post("/api/v1/channels/alice/watch", json=viewer).get_json()
    assert body["status"] == "live" and body["live"] is True and body["viewers"] == 1
    assert body["mode"] == "reduced" and body["renditions"] == SHOWN
