"""A real publisher through nginx-rtmp: the hook approves it, renames it, and the channel goes live."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .conftest import ROOT, require_tool

pytestmark = pytest.mark.e2e


def flask(stack, *args) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                            env=stack.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def api(stack, slug: str) -> dict:
    with urllib.request.urlopen(f"{stack.base_url}/api/v1/channels/{slug}", timeout=5) as response:
        return json.loads(response.read())



def publish(stack, name: str, seconds: int) -> subprocess.Popen:
    ffmpeg = require_tool("ffmpeg")
    return subprocess.Popen(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-c:a", "aac",
         "-f", "flv", f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{name}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def creator(stack):
    flask(stack, "users", "create", "livecreator", "--password", "a long enough pass")
    key = flask(stack, "channels", "key", "livecreator", "--rotate").strip().splitlines()[-1]
    assert key.startswith("live_")
    return key


def test_publish_goes_live_under_an_internal_name_and_offline_after(stack, creator):
    publisher = publish(stack, creator, 12)
    try:
        status = wait_for(lambda: (s := api(stack, "livecreator"))["live"] and s, 15, "the channel to go live")
        internal = status["hls_url"].split("/")[2]
        assert internal.startswith("st-") and creator not in status["hls_url"]
        # The stream exists under the internal name (play is allowed from loopback only).
        ffprobe = require_tool("ffprobe")
        probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_type,width,height",
                                "-of", "json", f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{internal}"],
                               capture_output=True, text=True, timeout=30)
        streams = json.loads(probe.stdout)["streams"]
        assert {"codec_type": "video", "width": 640, "height": 360} in streams
        # No process but the publisher itself carries the key on its command line.
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, timeout=10)
        carriers = [line for line in ps.stdout.splitlines()
                    if creator in line and int(line.split()[0]) != publisher.pid]
        assert not carriers, carriers
        # A second publisher with the same key is refused while the first is live.
        second = publish(stack, creator, 3)
        assert second.wait(timeout=30) != 0
    finally:
        publisher.kill()
        publisher.wait()
    stopped = time.monotonic()
    wait_for(lambda: not api(stack, "livecreator")["live"], 10, "the channel to go offline")
    assert time.monotonic() - stopped < 10
    logs = stack.log_text()
    assert creator not in logs
    assert internal in logs  # the logs name sessions by their internal name
    # Nor is it stored: not in the database file, not in any path under the media root.
    database = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    assert creator.encode() not in Path(database).read_bytes()
    media = Path(stack.env["MEDIA_ROOT"])
    assert not [p for p in media.rglob("*") if creator in str(p)]


def test_wrong_key_is_refused_and_never_logged(stack, creator):
    wrong = creator[:-4] + ("aaaa" if not creator.endswith("aaaa") else "bbbb")
    publisher = publish(stack, wrong, 3)
    assert publisher.wait(timeout=30) != 0
    assert api(stack, "livecreator")["live"] is False
    assert wrong not in stack.log_text()
