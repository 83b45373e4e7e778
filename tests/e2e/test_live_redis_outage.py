"""Redis away for 20 s under a live stream, on the real box: the stream plays on (its host is the
only one, so nobody could take its session over), and everything carries on when Redis is back.
No manual step."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.tcpproxy import Proxy

from .conftest import stop
from .test_live_runtime import COST_MODEL, api, make_creator, media_playlist, publisher, site, wait_playing  # noqa: F401 - fixtures (and helpers) from there

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

OUTAGE_SECONDS = 20


@pytest.fixture(scope="module")
def redis_proxy():
    upstream = urlsplit(TEST_REDIS_URL)
    made = Proxy((upstream.hostname or "127.0.0.1", upstream.port or 6379))
    yield made
    made.refuse()


@pytest.fixture(scope="module")
def stack_env(redis_proxy):
    """Every process of the box reaches Redis through the proxy, so the test can take it away."""
    import json

    database = urlsplit(TEST_REDIS_URL).path or "/15"
    return {"REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}{database}", "LIVE_HOST_CORES": "1",
            "LIVE_HOST_SHARE": "0.85", "LIVE_COST_MODEL": json.dumps(COST_MODEL)}


def parts(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#EXT-X-PART:")]


def test_a_live_stream_plays_on_while_redis_is_away_for_20_s(
        stack, site, source_file, redis_proxy, tmp_path):  # noqa: F811 - pytest passes the imported fixture
    """The box's only live host keeps its session through the outage (nobody else could take it
    over) and the stream never stops; when Redis is back, its lease is renewed as before."""
    key = make_creator(site, "outlasting")
    streamer = publisher(stack, source_file, key, tmp_path / "p.log")
    try:
        status = wait_playing(stack, "outlasting")
        redis_proxy.refuse()  # Redis is gone for every process of the box
        away, newest = time.monotonic(), parts(media_playlist(stack, status))[-1]
        while time.monotonic() - away < OUTAGE_SECONDS:
            time.sleep(3)
            latest = parts(media_playlist(stack, status))[-1]
            assert latest != newest, f"no new part for 3 s, {time.monotonic() - away:.0f} s into the outage"
            newest = latest
        redis_proxy.restore()
        time.sleep(4)  # a renewal or two
        assert parts(media_playlist(stack, status))[-1] != newest
        assert "#EXT-X-DISCONTINUITY" not in media_playlist(stack, status), (  # one run throughout
            "the run was restarted:\n" + "\n".join(line for line in stack.log_text().splitlines()
                                                   if "workers.live" in line)[-4000:])
        assert streamer.poll() is None  # the publisher never noticed
        assert api(stack, "outlasting")["live"] and api(stack, "outlasting")["hls_url"] == status["hls_url"]
        assert "lease expired" not in stack.log_text()
    finally:
        if redis_proxy.listener.fileno() == -1:
            redis_proxy.restore()
        stop(streamer)
