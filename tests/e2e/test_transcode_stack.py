"""The whole box: a 720p publisher through the hooks, the stack's RQ worker transcoding, HLS from nginx."""
from __future__ import annotations

import time
import urllib.request

import pytest

from tests.conftest import wait_for

from .conftest import require_tool, start, stop
from .test_live import api, flask

pytestmark = pytest.mark.e2e


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except OSError:
        return None, {}, b""


def test_a_720p_publisher_gets_a_720_480_360_ladder_served_by_nginx(stack, tmp_path):
    flask(stack, "users", "create", "ladderfan", "--password", "a long enough pass")
    key = flask(stack, "channels", "key", "ladderfan", "--rotate").strip().splitlines()[-1]
    ffmpeg = require_tool("ffmpeg")
    began = time.monotonic()
    publisher = start([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                       "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i",
                       "sine=frequency=440:sample_rate=48000", "-t", "60", "-c:v", "libx264", "-preset",
                       "ultrafast", "-tune", "zerolatency", "-g", "60", "-c:a", "aac", "-f", "flv",
                       f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{key}"], tmp_path / "publisher.log", {})
    try:
        status = wait_for(lambda: (s := api(stack, "ladderfan"))["live"] and s, 15, "the channel to go live")
        master_url = stack.base_url + status["hls_url"]
        code, headers, body = wait_for(lambda: (r := fetch(master_url))[0] == 200 and b"FRAME-RATE" in r[2] and r,
                                       30, "the master playlist through nginx")
        first_playlist = time.monotonic() - began
        text = body.decode()
        assert [l for l in text.splitlines() if l.endswith(".m3u8")] == [
            "720p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"]
        assert "1080p" not in text and headers["Cache-Control"] == "no-cache"
        assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
        base = master_url.rsplit("/", 1)[0]
        media = wait_for(lambda: (r := fetch(f"{base}/360p/index.m3u8"))[0] == 200 and b".m4s" in r[2] and r[2],
                         20, "a 360p segment")
        segment = next(l for l in media.decode().splitlines() if l.endswith(".m4s"))
        code, headers, _ = fetch(f"{base}/360p/{segment}")
        assert code == 200 and "immutable" in headers["Cache-Control"] and headers["Content-Type"] == "video/mp4"
        assert key not in stack.log_text()
        print(f"first master playlist {first_playlist:.1f} s after the publisher started")
    finally:
        stop(publisher)
