"""The mature-content gate through a real nginx in front of the app: a mature channel's live
playlists and a mature VOD's playlists answer 403 to viewers without the pass (and to signed-in
minors whatever cookie their browser holds), and are served once they pass the interstitial;
segments and parts are served to everyone, with their long public cache lifetime."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from datetime import date

import pytest
import requests
from werkzeug.serving import make_server

from app.deploy.nginx import prepare_dirs, render_nginx_conf
from app.extensions import db
from app.models import StreamSession, utcnow
from app.storage.backends import get_storage
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_user
from tests.hls.test_access import write_stream
from tests.httpd import POLL_SECONDS
from tests.mature.conftest import app  # noqa: F401 - the fixture: an app with its own media and queue
from tests.ports import free_ports
from tests.vods.factory import make_vod

from .test_nginx_conf import settings

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def box(app, tmp_path):  # noqa: F811 - pytest passes the imported fixture
    """The app on a port in a thread, and nginx (the box's config) in front of it: its base URL."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin") or pytest.fail("nginx is missing")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True)
    thread.start()
    http_port, rtmp_port = free_ports(2)
    values = settings(tmp_path, http_port=http_port, rtmp_port=rtmp_port, web_port=server.server_port,
                      user="root", media_root=str(tmp_path / "media"))
    prepare_dirs(values)
    conf = tmp_path / "nginx" / "nginx.conf"
    conf.write_text(render_nginx_conf(values))
    process = subprocess.Popen([nginx, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(f"{base}/static/css/site.css", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(10)
        server.shutdown()
        thread.join(5)


@pytest.fixture
def people(app):  # noqa: F811 - pytest passes the imported fixture
    owner, adult, minor = make_user("maker"), make_user("grownup"), make_user("kiddo")
    minor.adult_from = date(date.today().year + 3, 1, 1)
    owner.channel.mature = True
    owner.channel.content_labels = ["gambling"]
    db.session.commit()
    return {"owner": owner, "adult": adult, "minor": minor}


def live(user, tmp_path) -> str:
    name = f"st-{uuid.uuid4().hex[:16]}"
    db.session.add(StreamSession(channel=user.channel, internal_name=name, status="live", started_at=utcnow()))
    user.channel.is_live = True
    db.session.commit()
    write_stream(tmp_path / "media", name)
    return name


def pass_gate(browser: requests.Session, base: str, page: str) -> None:
    html = browser.get(base + page, timeout=10).text
    assert "intended for mature audiences" in html
    answer = browser.post(base + "/mature/continue", data={"csrf_token": csrf_from(html), "next": page},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303


def log_in(browser: requests.Session, base: str, username: str) -> None:
    html = browser.get(base + "/login", timeout=10).text
    answer = browser.post(base + "/login", data={"csrf_token": csrf_from(html), "login": username,
                                                 "password": PASSWORD}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303


def statuses(browser: requests.Session, base: str, paths: list[str]) -> list[int]:
    return [browser.get(base + path, timeout=10).status_code for path in paths]


def test_a_mature_streams_playlists_need_the_pass_and_its_parts_do_not(box, people, tmp_path):
    name = live(people["owner"], tmp_path)
    playlists = [f"/hls/{name}/master.m3u8", f"/hls/{name}/720p/index.m3u8",
                 f"/hls/{name}/720p/index.m3u8?_HLS_msn=1&_HLS_part=0"]  # the last one is the app's (blocking)
    viewer = requests.Session()
    assert statuses(viewer, box, playlists) == [403, 403, 403]
    refused = viewer.get(f"{box}{playlists[0]}", timeout=10)
    assert refused.headers["Cache-Control"] == "no-store" and "nginx" in refused.text  # nginx's own answer
    part = viewer.get(f"{box}/hls/{name}/720p/p0.0.m4s", timeout=10)
    assert part.status_code == 200 and part.content == b"part" and part.headers["Cache-Control"] == IMMUTABLE
    pass_gate(viewer, box, "/c/maker")
    assert statuses(viewer, box, playlists) == [200, 200, 200]
    assert viewer.get(f"{box}/hls/{name}/master.m3u8", timeout=10).text.startswith("#EXTM3U")
    # Another viewer without the pass is still refused (nginx keeps answers per viewer).
    assert statuses(requests.Session(), box, playlists[:2]) == [403, 403]


def test_a_signed_in_minor_is_refused_with_a_pass_from_before(box, people, tmp_path):
    name = live(people["owner"], tmp_path)
    browser = requests.Session()
    pass_gate(browser, box, "/c/maker")
    assert statuses(browser, box, [f"/hls/{name}/master.m3u8"]) == [200]
    log_in(browser, box, "kiddo")
    assert browser.cookies.get("mature_ok")  # the pass from before is still in the browser
    assert statuses(browser, box, [f"/hls/{name}/master.m3u8", f"/hls/{name}/720p/index.m3u8"]) == [403, 403]
    page = browser.get(f"{box}/c/maker", timeout=10).text
    assert "members under 18" in page and "data-mature-continue" not in page


def test_a_signed_in_adult_passes_once_for_every_browser(box, people, tmp_path):
    name = live(people["owner"], tmp_path)
    first = requests.Session()
    log_in(first, box, "grownup")
    assert statuses(first, box, [f"/hls/{name}/master.m3u8"]) == [403]
    pass_gate(first, box, "/c/maker")
    assert statuses(first, box, [f"/hls/{name}/master.m3u8"]) == [200]
    second = requests.Session()
    log_in(second, box, "grownup")
    assert "data-player-live" in second.get(f"{box}/c/maker", timeout=10).text  # the page mints its cookie
    assert statuses(second, box, [f"/hls/{name}/master.m3u8"]) == [200]


def test_a_channel_that_is_not_mature_is_not_gated(box, people, tmp_path):
    name = live(people["adult"], tmp_path)
    assert statuses(requests.Session(), box, [f"/hls/{name}/master.m3u8", f"/hls/{name}/720p/index.m3u8"]) == [200, 200]


def test_a_mature_vods_playlists_need_the_pass_and_its_segments_do_not(box, app, people):  # noqa: F811 - pytest passes the imported fixture
    vod = make_vod(people["owner"], public=True)
    vod.mature = True
    db.session.commit()
    get_storage().put_bytes(f"{vod.storage_prefix}720p/seg-1.m4s", b"segment")
    sid = vod.session_id
    viewer = requests.Session()
    assert statuses(viewer, box, [f"/vods/{sid}/master.m3u8", f"/vods/{sid}/video.mp4"]) == [403, 403]
    segment = viewer.get(f"{box}/vods/{sid}/720p/seg-1.m4s", timeout=10)
    assert segment.status_code == 200 and segment.content == b"segment"
    pass_gate(viewer, box, f"/c/maker/videos/{vod.id}")
    master = viewer.get(f"{box}/vods/{sid}/master.m3u8", timeout=10)
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")
    # A private mature VOD stays a plain 404 to others, pass or not: nobody learns it exists.
    private = make_vod(people["owner"], public=False)
    private.mature = True
    db.session.commit()
    assert statuses(viewer, box, [f"/vods/{private.session_id}/master.m3u8"]) == [404]
