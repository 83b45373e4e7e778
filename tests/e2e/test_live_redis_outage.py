"""Redis away for 20 s under a live stream, on the real box: the live host stops writing once its
lease can no longer be trusted, and when Redis is back it takes the session again by itself and
the same playlist carries on after a discontinuity. No manual step."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_REDIS_URL, wait_for
from tests.tcpproxy import Proxy

from .conftest import stop
from .test_live_runtime import (COST_MODEL, api, make_creator, media_playlist, publisher, site,  # noqa: F401
                                source_file, wait_playing)

pytestmark = pytest.mark.e2e

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


def test_a_live_stream_comes_back_by_itself_after_redis_was_away_for_20_s(
        stack, site, source_file, redis_proxy, tmp_path):  # noqa: F811
    key = make_creator(site, "outlasting")
    streamer = publisher(stack, source_file, key, tmp_path / "p.log")
    try:
        status = wait_playing(stack, "outlasting")
        before = media_playlist(stack, status)

        redis_proxy.refuse()  # Redis is gone for every process of the box
        time.sleep(OUTAGE_SECONDS)
        frozen = media_playlist(stack, status)
        # The host stopped writing once its lease could no longer be trusted (well within 20 s).
        time.sleep(2)
        assert media_playlist(stack, status) == frozen, "a host without its lease kept writing"
        redis_proxy.restore()
        back = time.monotonic()

        wait_for(lambda: "#EXT-X-DISCONTINUITY" in (text := media_playlist(stack, status))
                 and parts(text) and parts(text)[-1] not in before and parts(text)[-1] not in frozen,
                 30, "the playlist to carry on after Redis came back", lambda: stack.log_text()[-3000:])
        print(f"writing again {time.monotonic() - back:.1f} s after Redis came back")
        assert streamer.poll() is None  # the publisher never noticed
        wait_for(lambda: api(stack, "outlasting")["live"], 10, "the channel to say live")
        assert api(stack, "outlasting")["hls_url"] == status["hls_url"]  # the same stream, same URL
    finally:
        if redis_proxy.listener.fileno() == -1:
            redis_proxy.restore()
        stop(streamer)
