"""A live session's HLS through the real box (nginx, gunicorn, the live host), on each storage
backend: served while it is live and through a publisher's drop and reconnect within the grace,
and a 404 once the session has ended, though its files are still there (its recording)."""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests

from app.hls.access import REMEMBER_SECONDS
from tests.conftest import wait_for

from .conftest import stop
from .test_live_runtime import COST_MODEL, api, make_creator, publisher, site  # noqa: F401 - fixtures (and helpers) from there

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough pass"
# nginx keeps the app's answer a second or two (whole seconds), the app its own for a second.
END_SEEN_WITHIN = 2.0 + REMEMBER_SECONDS + 2.0


@pytest.fixture(scope="module")
def stack_env(storage_stack_env):
    return {**storage_stack_env, "LIVE_HOST_CORES": "1", "LIVE_HOST_SHARE": "0.85",
            "LIVE_COST_MODEL": json.dumps(COST_MODEL), "LIVE_COST_CORRECTION_MAX": "1",
            "STOP_COOLDOWN_SECONDS": "300"}


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def media_of(stack, master_url: str) -> tuple[str, list[str]]:
    """The first rendition's playlist URL and the media it names (init section and segments)."""
    status, master = fetch(stack.base_url + master_url)
    assert status == 200, master
    rung = next(line for line in master.decode().splitlines() if line and not line.startswith("#"))
    playlist_url = master_url.rsplit("/", 1)[0] + "/" + rung
    status, text = fetch(stack.base_url + playlist_url)
    assert status == 200, text
    base = playlist_url.rsplit("/", 1)[0] + "/"
    lines = text.decode().splitlines()
    media = [base + found for line in lines for found in re.findall(r'#EXT-X-MAP:URI="([^"]+)"', line)]
    media += [base + line for line in lines if line and not line.startswith("#")]
    return playlist_url, media


def last_msn(stack, playlist_url: str) -> int:
    status, text = fetch(stack.base_url + playlist_url)
    assert status == 200
    segments = [line for line in text.decode().splitlines() if line and not line.startswith("#")]
    return int(re.search(r"#EXT-X-MEDIA-SEQUENCE:([0-9]+)", text.decode()).group(1)) + len(segments)


def stop_from_dashboard(stack, username: str) -> None:
    browser = requests.Session()
    token = lambda page: re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)  # noqa: E731 - a one-line helper local to the test
    answer = browser.post(f"{stack.base_url}/login", allow_redirects=False, timeout=10, data={
        "login": username, "password": PASSWORD,
        "csrf_token": token(browser.get(f"{stack.base_url}/login", timeout=10).text)})
    assert answer.status_code == 303
    answer = browser.post(f"{stack.base_url}/dashboard/live/stop", allow_redirects=False, timeout=30,
                          data={"csrf_token": token(browser.get(f"{stack.base_url}/dashboard", timeout=10).text)})
    assert answer.status_code == 303


def session_status(site, internal: str) -> str:  # noqa: F811 - pytest passes the imported fixture
    from app.extensions import db
    from app.models import StreamSession

    with site.app_context():
        status = db.session.query(StreamSession.status).filter_by(internal_name=internal).scalar()
        db.session.remove()
        return status


def vod_made(site, internal: str) -> bool:  # noqa: F811 - pytest passes the imported fixture
    from app.extensions import db
    from app.models import VOD, StreamSession

    with site.app_context():
        made = db.session.query(VOD.id).join(StreamSession, VOD.session_id == StreamSession.id).filter(
            StreamSession.internal_name == internal).first() is not None
        db.session.remove()
        return made


def test_live_hls_plays_through_the_grace_and_is_gone_once_the_session_ends(
        stack, site, source_file, tmp_path):  # noqa: F811 - pytest passes the imported fixture
    key = make_creator(site, "endsoon")
    streamer = publisher(stack, source_file, key, tmp_path / "a.log")
    try:
        status = wait_for(lambda: (s := api(stack, "endsoon"))["live"] and s, 40, "the channel to go live")
        master_url = status["hls_url"]
        internal = master_url.split("/")[2]
        playlist_url, media = wait_for(lambda: (found := media_of(stack, master_url))[1] and found, 20,
                                       "a segment in the playlist")
        for url in media[:3]:
            assert fetch(stack.base_url + url)[0] == 200, url

        # The publisher drops: the session waits out the grace, and what viewers have still plays.
        stop(streamer)
        wait_for(lambda: session_status(site, internal) == "reconnecting", 15, "the session to wait for a reconnect")
        for _ in range(3):
            for url in (master_url, playlist_url, media[0]):
                assert fetch(stack.base_url + url)[0] == 200, url
            time.sleep(1)

        # Back within the grace: the same session, the same URLs, new media.
        before = last_msn(stack, playlist_url)
        streamer = publisher(stack, source_file, key, tmp_path / "b.log")
        status = wait_for(lambda: (s := api(stack, "endsoon"))["live"] and s, 40, "the channel to be live again")
        assert status["hls_url"] == master_url
        wait_for(lambda: last_msn(stack, playlist_url) > before + 1, 30, "new segments after the reconnect")
        assert fetch(stack.base_url + media[0])[0] == 200
    finally:
        stop(streamer)

    stop_from_dashboard(stack, "endsoon")
    assert session_status(site, internal) == "ended"
    ended = time.monotonic()
    wait_for(lambda: fetch(stack.base_url + master_url)[0] == 404, END_SEEN_WITHIN, "the master playlist to go")
    print(f"hls_gone_after_end_s={time.monotonic() - ended:.1f}")
    # The master can go before nginx's remembered answer for the stream does: the rest follow
    # within a second or two.
    for url in (playlist_url, f"{playlist_url}?_HLS_msn=1&_HLS_part=0", *media[:3]):
        wait_for(lambda: fetch(stack.base_url + url)[0] == 404, END_SEEN_WITHIN,  # noqa: B023 - waited for at once
                 f"{url} to go")
    # Not deleted: the files are the recording now, just not public under /hls/. They stay on
    # disk until the VOD job has made the video from them (it then removes the live output).
    segment = next(url for url in media if re.search(r"/s[0-9]+\.m4s$", url))
    wait_for(lambda: (Path(stack.env["MEDIA_ROOT"]) / segment.removeprefix("/")).is_file()
             or vod_made(site, internal), 20, "the recorded segment to stay on disk or become the video")
