"""Viewer counts nobody can inflate: a heartbeat counts only with its page's token, from a browser,
while playing (paused players leave at once), and at most VIEWERS_PER_ADDRESS players per address;
no address is stored, only a daily HMAC whose salt lives in Redis."""
from __future__ import annotations

import json

import pytest
from redis import Redis

from app.extensions import db, get_redis
from app.models import StreamSession
from app.streams import viewers
from tests.conftest import TEST_REDIS_URL
from tests.factories import beat, make_live, make_user

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"


@pytest.fixture
def live(app):
    alice = make_user("alice")
    make_live(alice)
    return alice.channel


def send(client, channel, body, address: str = "198.51.100.7", agent: str = CHROME, **kwargs):
    return client.post(f"/api/v1/channels/{channel.slug}/watch", json=body,
                       environ_base={"REMOTE_ADDR": address}, headers={"User-Agent": agent}, **kwargs)


def test_fifty_beats_without_the_pages_token_count_nobody(client, live):
    for n in range(50):
        body = send(client, live, {"viewer": f"script-viewer-{n:02d}"}).get_json()
    assert body["viewers"] == 0 and body["live"] is True
    other = make_user("bob").channel
    assert send(client, live, beat(other, "wrong-token-viewer")).get_json()["viewers"] == 0
    assert send(client, live, beat(live, "real-viewer-0001")).get_json()["viewers"] == 1
    assert db.session.query(StreamSession).one().peak_viewers == 1


@pytest.mark.parametrize("agent", ["curl/8.5.0", "Wget/1.21", "python-requests/2.32", "Googlebot/2.1",
                                   "Mozilla/5.0 (compatible; bingbot/2.0)", ""])
def test_programs_are_not_viewers(client, live, agent):
    assert send(client, live, beat(live, "program-viewer-1"), agent=agent).get_json()["viewers"] == 0


def test_one_address_counts_at_most_its_cap(make_app, live):
    app = make_app(VIEWERS_PER_ADDRESS=3)
    with app.app_context():
        client = app.test_client()
        for n in range(10):
            body = send(client, live, beat(live, f"household-{n:02d}")).get_json()
        assert body["viewers"] == 3
        # Those counted keep counting; another address is another household.
        assert send(client, live, beat(live, "household-00")).get_json()["viewers"] == 3
        assert send(client, live, beat(live, "neighbour-01"), address="203.0.113.9").get_json()["viewers"] == 4


def test_a_paused_player_leaves_the_count_at_once_and_comes_back_when_it_plays(client, live):
    for viewer in ("viewer-one-1111", "viewer-two-2222"):
        send(client, live, beat(live, viewer, "starting"))
    assert send(client, live, beat(live, "viewer-one-1111", "paused")).get_json()["viewers"] == 1
    assert send(client, live, beat(live, "viewer-one-1111", "playing")).get_json()["viewers"] == 2
    assert send(client, live, beat(live, "viewer-two-2222", "rebuffering")).get_json()["viewers"] == 2
    assert send(client, live, beat(live, "viewer-two-2222", "ended")).get_json()["viewers"] == 1
    assert send(client, live, beat(live, "viewer-one-1111", "dancing")).status_code == 400


def test_the_last_beat_comes_as_a_beacon(client, live):
    send(client, live, beat(live, "leaving-viewer-1"))
    # navigator.sendBeacon sends the JSON as text/plain.
    last = json.dumps(beat(live, "leaving-viewer-1", "ended"))
    answer = client.post(f"/api/v1/channels/{live.slug}/watch", data=last,
                         content_type="text/plain;charset=UTF-8",
                         environ_base={"REMOTE_ADDR": "198.51.100.7"}, headers={"User-Agent": CHROME})
    assert answer.status_code == 200 and answer.get_json()["viewers"] == 0


def test_no_address_is_kept_anywhere_in_redis(client, live):
    send(client, live, beat(live, "private-viewer-1"), address="192.0.2.123")
    with Redis.from_url(TEST_REDIS_URL) as redis:
        for key in redis.scan_iter("*"):
            assert b"192.0.2.123" not in key
            kind = redis.type(key)
            values = (redis.zrange(key, 0, -1) if kind == b"zset" else redis.hvals(key) if kind == b"hash"
                      else redis.smembers(key) if kind == b"set" else [redis.get(key)] if kind == b"string" else [])
            assert not any(b"192.0.2.123" in (value or b"") for value in values), key
    salts = [key for key in get_redis().scan_iter("cascade:viewers:salt:*")]
    assert len(salts) == 1 and 0 < get_redis().ttl(salts[0]) <= viewers.SALT_SECONDS


def test_the_channel_page_gives_its_player_a_token_and_the_preview_none(client, live, login):
    page = client.get(f"/c/{live.slug}").get_data(as_text=True)
    token = page.split('data-viewer-token="', 1)[1].split('"', 1)[0]
    assert viewers.token_is_for(token, live.id) and not viewers.token_is_for(token, live.id + 1)
    assert "data-viewer-token" not in login("alice").get("/dashboard").get_data(as_text=True)
