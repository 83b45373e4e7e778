"""A VOD's objects: the paths that name them, nginx's access check (/internal/vod-access) and the
app's own /vods/ serving on both storage backends. Who may watch a VOD: test_access.py."""
from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models.vod import VISIBILITY_PRIVATE, VISIBILITY_PUBLIC
from app.storage.backends import get_storage
from app.vods.objects import SOURCE_HEADER, object_key, vod_for_path
from tests.vods.factory import MASTER, MP4, VTT, make_vod

SEGMENT = bytes(range(251)) * 40


@pytest.fixture
def app(site):
    """Every fixture built on `app` (login) uses this test's site."""
    return site


def fetch(client, url: str, **kwargs):
    """GET `url`, read the body and close the response (send_file holds the file open)."""
    with client.get(url, **kwargs) as response:
        response.get_data()
    return response


def with_segment(vod):
    get_storage().put_bytes(f"{vod.storage_prefix}720p/seg-1.m4s", SEGMENT)
    return vod


# Rules over rows: one storage backend is enough.
local_only = pytest.mark.parametrize("site", ["local"], indirect=True)


# --- paths -------------------------------------------------------------------------------------

@local_only
def test_vod_for_path_finds_the_vod_by_its_storage_prefix(app, people):
    vod = make_vod(people["owner"], objects=False)
    sid = vod.session_id
    assert vod_for_path(f"/vods/{sid}/master.m3u8") == vod
    assert vod_for_path(f"/vods/{sid}/720p/seg-1.m4s?token=1") == vod
    assert object_key(f"/vods/{sid}/720p/seg-1.m4s?x=1") == f"vods/{sid}/720p/seg-1.m4s"
    assert vod_for_path(f"/vods/{sid + 1000}/master.m3u8") is None


@pytest.mark.parametrize("path", [
    "", "/", "/vods/", "/vods/{sid}", "/vods/{sid}/", "/vods/{sid}/../{other}/master.m3u8",
    "/vods/{sid}/./master.m3u8", "/vods/{sid}//master.m3u8", "/vods/0{sid}/master.m3u8",
    "/vods/+{sid}/master.m3u8", "/vods/abc/master.m3u8", "/vods/{sid}/%2e%2e/master.m3u8",
    "/vods/{sid}/master%2Em3u8", "/vods/{sid}/a b.m3u8", "/vods/{sid}/master.m3u8#x",
    "/media/vods/{sid}/master.m3u8", "/VODS/{sid}/master.m3u8", "vods/{sid}/master.m3u8",
    "/vods/{sid}/" + "a" * 600,
])
@local_only
def test_malformed_paths_name_no_vod(app, people, path):
    vod = make_vod(people["owner"], public=True, objects=False)
    other = make_vod(people["other"], public=True, objects=False)
    assert vod_for_path(path.format(sid=vod.session_id, other=other.session_id)) is None


# --- nginx's access check ----------------------------------------------------------------------

def ask(client, path: str | None):
    headers = {} if path is None else {"X-Original-URI": path}
    return client.get("/internal/vod-access", headers=headers)


@pytest.mark.parametrize("visibility", [VISIBILITY_PRIVATE, VISIBILITY_PUBLIC])
def test_access_check_answers_204_or_403_by_role(site, people, login, visibility):
    vod = make_vod(people["owner"], public=visibility == VISIBILITY_PUBLIC, objects=False)
    path = f"/vods/{vod.session_id}/720p/seg-1.m4s"
    expected = {"owner": 204, "admin": 204, "other": 204 if visibility == VISIBILITY_PUBLIC else 403}
    for role, status in expected.items():
        assert ask(login(people[role].username), path).status_code == status, role
    assert ask(site.test_client(), path).status_code == expected["other"]


@pytest.mark.parametrize("path", [None, "", "/vods/{sid}/../1/master.m3u8", "/vods/{sid}/%2e%2e/x",
                                  "/vods/99999999/master.m3u8", "/media/vods/{sid}/master.m3u8",
                                  "/vods/0{sid}/master.m3u8"])
def test_access_check_refuses_unknown_and_malformed_paths_even_to_admins(site, people, login, path):
    vod = make_vod(people["owner"], public=True, objects=False)
    admin = login(people["admin"].username)
    assert ask(admin, path.format(sid=vod.session_id) if path else path).status_code == 403


def test_access_check_signs_exactly_the_allowed_key_on_s3_only(site, people, login, s3_server):
    vod = with_segment(make_vod(people["owner"]))
    answer = ask(login("maker"), f"/vods/{vod.session_id}/720p/seg-1.m4s?ignored=1")
    assert answer.status_code == 204
    storage = get_storage()
    if storage.name == "local":
        assert SOURCE_HEADER not in answer.headers  # nginx serves the file from disk
        return
    source = answer.headers[SOURCE_HEADER]
    assert source.startswith(f"/{storage.bucket}/vods/{vod.session_id}/720p/seg-1.m4s?")
    assert "X-Amz-Signature=" in source and "ignored" not in source
    assert s3_server.secret_key not in source
    with urllib.request.urlopen(s3_server.endpoint_url + source, timeout=10) as response:
        assert response.read() == SEGMENT
    refused = ask(site.test_client(), f"/vods/{vod.session_id}/720p/seg-1.m4s")
    assert refused.status_code == 403 and SOURCE_HEADER not in refused.headers


def test_access_check_follows_publishing(site, people):
    vod = make_vod(people["owner"], objects=False)
    anonymous = site.test_client()
    path = f"/vods/{vod.session_id}/master.m3u8"
    assert ask(anonymous, path).status_code == 403
    vod.visibility = VISIBILITY_PUBLIC
    db.session.commit()
    assert ask(anonymous, path).status_code == 204


# --- the app's own /vods/ ------------------------------------------------------------------------

@pytest.mark.parametrize("name, content_type, body", [
    ("master.m3u8", "application/vnd.apple.mpegurl", MASTER), ("video.mp4", "video/mp4", MP4),
    ("thumbnails.vtt", "text/vtt", VTT), ("720p/seg-1.m4s", "video/mp4", SEGMENT),
], ids=["playlist", "mp4", "vtt", "segment"])
def test_owner_gets_objects_with_their_type_and_a_private_cache(site, people, login, name, content_type, body):
    vod = with_segment(make_vod(people["owner"]))
    response = fetch(login("maker"), f"/vods/{vod.session_id}/{name}")
    assert response.status_code == 200
    assert response.mimetype == content_type
    assert response.headers["Cache-Control"] == "private"
    assert response.data == body


def test_poster_is_a_jpeg(site, people, login):
    vod = make_vod(people["owner"])
    response = fetch(login("maker"), f"/vods/{vod.session_id}/poster.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.data[:2] == b"\xff\xd8"


def test_private_objects_are_404_for_others_until_published(site, people, login):
    vod = make_vod(people["owner"])
    url = f"/vods/{vod.session_id}/video.mp4"
    other, anonymous, admin = login("viewer"), site.test_client(), login("boss")
    assert fetch(other, url).status_code == 404 and fetch(anonymous, url).status_code == 404
    assert fetch(admin, url).status_code == 200
    vod.visibility = VISIBILITY_PUBLIC
    db.session.commit()
    assert fetch(other, url).data == MP4 and fetch(anonymous, url).status_code == 200


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, len(MP4) - 1), ("bytes=-10", len(MP4) - 10, len(MP4) - 1),
])
def test_range_requests_get_206_with_the_bytes_asked_for(site, people, header, start, end):
    vod = make_vod(people["owner"], public=True)
    response = fetch(site.test_client(), f"/vods/{vod.session_id}/video.mp4", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(MP4)}"
    assert response.data == MP4[start:end + 1]
    assert int(response.headers["Content-Length"]) == end - start + 1
    assert response.headers["Cache-Control"] == "private"


def test_a_range_past_the_end_is_416(site, people):
    vod = make_vod(people["owner"], public=True)
    response = fetch(site.test_client(), f"/vods/{vod.session_id}/video.mp4",
                                      headers={"Range": f"bytes={len(MP4) + 10}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(MP4)}"


@pytest.mark.parametrize("path", [
    "/vods/{sid}/missing.m4s", "/vods/{sid}/../{other}/video.mp4", "/vods/{sid}/%2e%2e/{other}/video.mp4",
    "/vods/{sid}/a%20b.mp4", "/vods/{sid}/720p//seg-1.m4s", "/vods/{unknown}/video.mp4", "/vods/{other}/video.mp4",
])
def test_bad_unknown_and_denied_paths_are_404(site, people, login, path):
    vod = make_vod(people["owner"], public=True)
    private = make_vod(people["other"])  # someone else's private recording
    url = path.format(sid=vod.session_id, other=private.session_id, unknown=private.session_id + 500)
    assert fetch(login("maker"), url).status_code == 404


def test_objects_of_a_deleted_vod_are_404_even_if_left_in_storage(site, people, login):
    vod = make_vod(people["owner"], public=True)
    url = f"/vods/{vod.session_id}/video.mp4"
    db.session.delete(vod)
    db.session.commit()
    assert get_storage().exists(urlsplit(url).path.lstrip("/"))
    assert fetch(login("maker"), url).status_code == 404

