"""The box on each storage backend through real nginx and gunicorn: /media/ and /hls/ from the
directory or from the bucket (read anonymously, public prefixes only, on a real S3 API on
loopback), and /vods/ only after nginx has asked the app."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from app import create_app
from app.extensions import db
from app.models import VOD, StreamSession, utcnow
from app.models.vod import VISIBILITY_PRIVATE, VISIBILITY_PUBLIC, vod_prefix
from app.storage.backends import get_storage
from tests.conftest import base_config

from .test_live import flask

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough pass"
MASTER = b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n720p/index.m3u8\n"
SEGMENT = bytes(range(256)) * 300  # 76,800 bytes
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 512
JPEG = b"\xff\xd8\xff\xe0" + b"picture" * 100 + b"\xff\xd9"


@pytest.fixture(scope="module")
def backend(storage_backend) -> str:
    return storage_backend


@pytest.fixture(scope="module")
def stack_env(storage_stack_env) -> dict:
    return storage_stack_env


@pytest.fixture(scope="module")
def box(stack, stack_env, backend):
    """The running stack after `flask storage init`, and an app on its database and storage."""
    assert ("created" if backend == "s3" else "ready") in flask(stack, "storage", "init")
    flask(stack, "users", "create", "vodmaker", "--password", PASSWORD)
    flask(stack, "users", "create", "vodfan", "--password", PASSWORD)
    app = create_app({**base_config(stack.env["DATABASE_URL"]), **stack_env,
                      "MEDIA_ROOT": stack.env["MEDIA_ROOT"], "REDIS_URL": stack.env["REDIS_URL"]})
    with app.app_context():
        yield app, get_storage()
        db.session.remove()
        db.engine.dispose()


def put_live(stack, backend, storage, key: str, data: bytes) -> None:
    """A live HLS file where the transcode worker would leave it: on disk, or in the bucket."""
    if backend == "s3":
        storage.put_bytes(key, data)
        return
    path = Path(stack.env["MEDIA_ROOT"]) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def recording(box):
    """A private VOD of vodmaker's channel with a playlist, a segment and the MP4 in storage."""
    app, storage = box
    from app.auth.services import find_user

    owner = find_user("vodmaker")
    session = StreamSession(channel=owner.channel, internal_name="st-e2evod", status="ended",
                            ended_at=utcnow())
    db.session.add(session)
    db.session.commit()
    prefix = vod_prefix(session.id)
    vod = VOD(channel_id=owner.channel.id, session_id=session.id, object_key=prefix + "master.m3u8",
              storage_prefix=prefix, download_key=prefix + "video.mp4", visibility=VISIBILITY_PRIVATE)
    db.session.add(vod)
    db.session.commit()
    for name, body in (("master.m3u8", MASTER), ("720p/seg-1.m4s", SEGMENT), ("video.mp4", MP4)):
        storage.put_bytes(prefix + name, body)
    return vod


def set_visibility(vod: VOD, visibility: str) -> None:
    vod.visibility = visibility
    db.session.commit()


def logged_in(stack, username: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{stack.base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', form).group(1)
    answer = browser.post(f"{stack.base_url}/login", timeout=10, allow_redirects=False,
                          data={"login": username, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text[:500]
    return browser


def no_store_headers(response) -> None:
    leaked = [name for name in response.headers
              if name.lower().startswith(("x-amz", "x-minio", "access-control-"))]
    assert not leaked, leaked
    assert "set-cookie" not in {name.lower() for name in response.headers}


def test_media_is_served_from_storage(stack, box):
    _, storage = box
    storage.put_bytes("profiles/9/avatar.jpg", JPEG)
    response = requests.get(f"{stack.base_url}/media/profiles/9/avatar.jpg?v=1", timeout=10)
    assert response.status_code == 200 and response.content == JPEG
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    no_store_headers(response)


def test_s3_media_is_cached_per_version(stack, box, backend):
    if backend != "s3":
        pytest.skip("the local backend reads files directly, with no cache in between")
    _, storage = box
    storage.put_bytes("thumbnails/9/live.jpg", JPEG)
    assert requests.get(f"{stack.base_url}/media/thumbnails/9/live.jpg?v=1", timeout=10).content == JPEG
    # Cached: still served after the object is gone from the bucket (for this ?v= only).
    storage.delete("thumbnails/9/live.jpg")
    assert requests.get(f"{stack.base_url}/media/thumbnails/9/live.jpg?v=1", timeout=10).content == JPEG
    assert requests.get(f"{stack.base_url}/media/thumbnails/9/live.jpg?v=2", timeout=10).status_code == 404


def test_missing_and_private_keys_under_media_are_plain_404s(stack, box, recording):
    response = requests.get(f"{stack.base_url}/media/thumbnails/none.jpg", timeout=10)
    assert response.status_code == 404 and b"<Error>" not in response.content
    no_store_headers(response)
    owner = logged_in(stack, "vodmaker")
    for path in ("/media/vods/{sid}/master.m3u8", "/media/vods/{sid}/video.mp4", "/media//vods/{sid}/video.mp4",
                 "/media/%76ods/{sid}/video.mp4"):
        response = owner.get(stack.base_url + path.format(sid=recording.session_id), timeout=10)
        assert response.status_code == 404, path
        assert MP4[:64] not in response.content and b"#EXTM3U" not in response.content


def test_the_bucket_refuses_anonymous_reads_of_recordings(stack_env, backend, recording):
    if backend != "s3":
        pytest.skip("S3 only: nginx reads the bucket as an anonymous client")
    key = f"{recording.storage_prefix}video.mp4"
    url = f"{stack_env['S3_ENDPOINT_URL']}/{stack_env['S3_BUCKET']}/{key}"
    assert requests.get(url, timeout=10).status_code == 403


def test_private_vod_is_404_to_others_and_served_to_its_owner(stack, box, recording):
    url = f"{stack.base_url}/vods/{recording.session_id}/master.m3u8"
    for browser in (requests.Session(), logged_in(stack, "vodfan")):
        response = browser.get(url, timeout=10)
        assert response.status_code == 404 and b"#EXTM3U" not in response.content
    owner = logged_in(stack, "vodmaker")
    response = owner.get(url, timeout=10)
    assert response.status_code == 200 and response.content == MASTER
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response.headers["Cache-Control"] == "private"
    no_store_headers(response)
    segment = owner.get(f"{stack.base_url}/vods/{recording.session_id}/720p/seg-1.m4s", timeout=10)
    assert segment.status_code == 200 and segment.content == SEGMENT


def test_publishing_opens_it_to_everyone_and_unpublishing_closes_even_cached_objects(stack, box, recording):
    segment = f"{stack.base_url}/vods/{recording.session_id}/720p/seg-1.m4s"
    anonymous = requests.Session()
    set_visibility(recording, VISIBILITY_PUBLIC)
    try:
        response = anonymous.get(segment, timeout=10)
        assert response.status_code == 200 and response.content == SEGMENT
    finally:
        set_visibility(recording, VISIBILITY_PRIVATE)
    # The segment is in nginx's cache now; the access check still runs first.
    assert anonymous.get(segment, timeout=10).status_code == 404
    assert logged_in(stack, "vodmaker").get(segment, timeout=10).content == SEGMENT


@pytest.mark.parametrize("name", ["video.mp4", "720p/seg-1.m4s"])
def test_range_requests_get_206(stack, box, recording, name):
    body = {"video.mp4": MP4, "720p/seg-1.m4s": SEGMENT}[name]
    owner = logged_in(stack, "vodmaker")
    url = f"{stack.base_url}/vods/{recording.session_id}/{name}"
    response = owner.get(url, headers={"Range": "bytes=100-1123"}, timeout=10)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-1123/{len(body)}"
    assert response.content == body[100:1124]
    assert response.headers["Cache-Control"] == "private"
    no_store_headers(response)
    assert requests.get(url, headers={"Range": "bytes=0-9"}, timeout=10).status_code == 404


def test_live_hls_is_served_with_playlists_never_cached(stack, box, backend):
    _, storage = box
    put_live(stack, backend, storage, "hls/st-00e2e0000000beef/720p/s1.m4s", SEGMENT)
    put_live(stack, backend, storage, "hls/st-00e2e0000000beef/master.m3u8", MASTER)
    response = requests.get(f"{stack.base_url}/hls/st-00e2e0000000beef/720p/s1.m4s", timeout=10)
    assert response.status_code == 200 and response.content == SEGMENT
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    no_store_headers(response)
    assert requests.get(f"{stack.base_url}/hls/st-00e2e0000000beef/master.m3u8", timeout=10).content == MASTER
    changed = MASTER + b"#EXT-X-STREAM-INF:BANDWIDTH=400000\n360p/index.m3u8\n"
    put_live(stack, backend, storage, "hls/st-00e2e0000000beef/master.m3u8", changed)
    response = requests.get(f"{stack.base_url}/hls/st-00e2e0000000beef/master.m3u8", timeout=10)
    assert response.content == changed and response.headers["Cache-Control"] == "no-cache"
    # Missing files go to the app (which holds preload-hinted parts), never S3's XML.
    missing = requests.get(f"{stack.base_url}/hls/st-00e2e0000000beef/720p/p9.1.m4s", timeout=10)
    assert missing.status_code == 404 and b"<Error>" not in missing.content
    assert missing.headers["Content-Type"].startswith("text/plain")  # the app's answer, not nginx's page


def test_the_access_check_is_for_nginx_only(stack, recording):
    response = requests.get(f"{stack.base_url}/internal/vod-access", timeout=10,
                            headers={"X-Original-URI": f"/vods/{recording.session_id}/master.m3u8"})
    assert response.status_code == 404
    assert "x-vod-source" not in {name.lower() for name in response.headers}


def test_nothing_secret_is_in_the_config_or_the_logs(stack, stack_env):
    time.sleep(0.5)  # let nginx flush its access log
    secret = stack_env.get("AWS_SECRET_ACCESS_KEY") or "no secret on the local backend"
    assert secret not in stack.conf.read_text() and secret not in stack.log_text()
    assert "X-Amz-Signature" not in stack.log_text()
