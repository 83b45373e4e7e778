"""The whole box: a 720p publisher through the hooks, the stack's RQ worker transcoding, HLS from nginx."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import wait_for
from tests.media.llhls_rules import check_playlist

from .conftest import fixed_cost_env, require_tool, start, stop
from .test_live import api, flask

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack_env():
    return fixed_cost_env()


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except OSError:
        return None, {}, b""


def test_a_720p_publisher_gets_a_720_480_360_ladder_served_by_nginx(stack, tmp_path):
    """LL-HLS through nginx: parts, a blocking reload answered when the next part lands, and a
    classic client (ffprobe, which ignores the LL tags) reading the same live stream."""
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
        assert [line for line in text.splitlines() if line.endswith(".m3u8")] == [
            "720p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"]
        assert "1080p" not in text and headers["Cache-Control"] == "no-cache"
        assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
        base = master_url.rsplit("/", 1)[0]
        media = wait_for(lambda: (r := fetch(f"{base}/360p/index.m3u8"))[0] == 200 and b"#EXTINF" in r[2] and r[2],
                         20, "a 360p segment")
        segment = next(line for line in media.decode().splitlines() if line.endswith(".m4s"))
        code, headers, _ = fetch(f"{base}/360p/{segment}")
        assert code == 200 and "immutable" in headers["Cache-Control"] and headers["Content-Type"] == "video/mp4"

        # A player asking for the part after the newest is held by the app until it exists.
        playlist = check_playlist(media.decode())
        assert playlist.part_target and "CAN-BLOCK-RELOAD=YES" in playlist.server_control
        last = playlist.segments[-1]
        msn, part = (last.msn + 1, 0) if last.uri else (last.msn, len(last.parts))
        asked = time.monotonic()
        code, headers, held = fetch(f"{base}/360p/index.m3u8?_HLS_msn={msn}&_HLS_part={part}")
        waited = time.monotonic() - asked
        # A segment may close with fewer parts than the one before (its parts follow the frames), and
        # then the part asked for is the next segment's first: the server answers with that one.
        wanted = next((uri for uri in (f"p{msn}.{part}.m4s", f"p{msn + 1}.0.m4s") if f'URI="{uri}"' in held.decode()),
                      None)
        assert code == 200 and wanted, held.decode()
        assert waited < 3 * playlist.target_duration
        code, headers, body = fetch(f"{base}/360p/{wanted}")
        assert code == 200 and headers["Content-Type"] == "video/mp4" and body[4:8] in (b"moof", b"styp")

        # A classic client ignores the LL tags and reads the live stream through nginx.
        probe = subprocess.run([require_tool("ffprobe"), "-v", "error", "-rw_timeout", "10000000",
                                "-show_entries", "stream=codec_name,width,height", "-of", "json", master_url],
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0, probe.stderr
        streams = json.loads(probe.stdout)["streams"]
        assert {"h264", "aac"} <= {s["codec_name"] for s in streams}
        assert {(s.get("width"), s.get("height")) for s in streams if s["codec_name"] == "h264"} >= \
            {(1280, 720), (640, 360)}
        assert key not in stack.log_text()
        print(f"first master playlist {first_playlist:.1f} s after the publisher started")
    finally:
        stop(publisher)
