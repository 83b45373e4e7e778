"""A mature channel's live playlists and a mature VOD's playlists are refused to viewers without
the pass, by the app's answers to nginx (/internal/hls-access, /internal/vod-access) and by its
own /hls/ and /vods/ answers; segments and parts never ask. Through real nginx:
tests/deploy/test_nginx_mature_gate.py."""
from __future__ import annotations

import pytest

from app.hls import access
from app.mature import MATURE_COOKIE, gate
from app.mature.services import pass_interstitial
from app.storage.backends import get_storage
from tests.conftest import Actions
from tests.factories import PASSWORD, make_user
from tests.hls.test_access import write_stream
from tests.vods.factory import make_vod

from .conftest import label, live_session


def ask_hls(client, name: str, playlist: bool):
    headers = {access.HEADER: name}
    if playlist:
        headers[access.PLAYLIST_HEADER] = "1"
    return client.get("/internal/hls-access", headers=headers)


def anonymous_pass(app, client):
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, gate.ANONYMOUS))


def test_nginx_is_told_to_refuse_a_mature_streams_playlist_without_the_pass(app, client, people):
    name = live_session(label(people["owner"].channel).owner).internal_name
    assert ask_hls(client, name, playlist=True).status_code == 401  # nginx answers it 403
    assert ask_hls(client, name, playlist=False).status_code == 204  # segments and parts: never gated
    anonymous_pass(app, client)
    assert ask_hls(client, name, playlist=True).status_code == 204


def test_a_streams_playlist_is_not_gated_while_its_channel_is_not_mature(app, client, people):
    name = live_session(label(people["owner"].channel, mature=False).owner).internal_name
    assert ask_hls(client, name, playlist=True).status_code == 204


def test_a_signed_in_minor_is_refused_whatever_cookie_the_browser_holds(app, client, people):
    name = live_session(label(people["owner"].channel).owner).internal_name
    anonymous_pass(app, client)
    assert Actions(client).login("kiddo", PASSWORD).status_code == 303
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, gate.ANONYMOUS))
    assert ask_hls(client, name, playlist=True).status_code == 401
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, people["adult"].id))
    assert ask_hls(client, name, playlist=True).status_code == 401


def test_a_pass_minted_for_an_adults_account_works_only_in_their_session(app, client, people):
    name = live_session(label(people["owner"].channel).owner).internal_name
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, people["adult"].id))
    assert ask_hls(client, name, playlist=True).status_code == 401  # signed out
    assert Actions(client).login("grownup", PASSWORD).status_code == 303
    client.set_cookie(MATURE_COOKIE, gate.cookie_value(app, people["adult"].id))
    assert ask_hls(client, name, playlist=True).status_code == 204


def test_an_anonymous_pass_with_a_remember_me_cookie_waits_for_the_session(app, client, people):
    """A remember-me cookie without a session is a member a page load would sign in: not anonymous."""
    name = live_session(label(people["owner"].channel).owner).internal_name
    anonymous_pass(app, client)
    client.set_cookie("remember_token", "1:whatever")
    assert ask_hls(client, name, playlist=True).status_code == 401


def test_the_apps_own_playlist_answers_follow_the_same_rule(app, client, people, tmp_path):
    """Blocking reloads (and the master when the bucket fails) come to the app, not through nginx's
    check: a mature stream's playlists are 403 without the pass; parts are served regardless."""
    name = live_session(label(people["owner"].channel).owner).internal_name
    write_stream(tmp_path / "media", name)
    playlists = [f"/hls/{name}/master.m3u8", f"/hls/{name}/720p/index.m3u8?_HLS_msn=1&_HLS_part=0"]
    for path in playlists:
        assert client.get(path).status_code == 403, path
    part = client.get(f"/hls/{name}/720p/p0.0.m4s")
    part.close()
    assert part.status_code == 200
    anonymous_pass(app, client)
    gate.forget()
    for path in playlists:
        assert client.get(path).status_code == 200, path


def test_the_mature_flag_is_remembered_a_second_for_held_requests(app, people, monkeypatch):
    name = live_session(label(people["owner"].channel).owner).internal_name
    assert gate.stream_is_mature(name)
    label(people["owner"].channel, mature=False)
    assert gate.stream_is_mature(name)  # remembered
    assert not gate.stream_is_mature(name, remembered=False)  # nginx's question asks the database


def ask_vod(client, path: str):
    return client.get("/internal/vod-access", headers={"X-Original-URI": path})


def test_nginx_is_told_to_refuse_a_mature_vods_playlists_and_mp4_not_its_segments(app, client, people):
    vod = label(make_vod(people["owner"], public=True, objects=False))
    sid = vod.session_id
    for path in (f"/vods/{sid}/master.m3u8", f"/vods/{sid}/720p/index.m3u8", f"/vods/{sid}/video.mp4"):
        assert ask_vod(client, path).status_code == 401, path
    for path in (f"/vods/{sid}/720p/seg-1.m4s", f"/vods/{sid}/poster.jpg"):
        assert ask_vod(client, path).status_code == 204, path
    anonymous_pass(app, client)
    assert ask_vod(client, f"/vods/{sid}/master.m3u8").status_code == 204


def test_a_private_mature_vod_stays_a_404_to_others(app, client, people):
    vod = label(make_vod(people["owner"], public=False, objects=False))
    assert ask_vod(client, f"/vods/{vod.session_id}/master.m3u8").status_code == 403  # nginx's 404


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_apps_own_vod_objects_follow_the_same_rule(make_app, tmp_path, backend, request):
    config = {"MEDIA_ROOT": str(tmp_path / "media")}
    if backend == "s3":
        config.update(request.getfixturevalue("s3_config"))
    other = make_app(**config)
    with other.app_context():
        vod = label(make_vod(make_user("maker"), public=True))
        get_storage().put_bytes(f"{vod.storage_prefix}720p/seg-1.m4s", b"segment")
        client = other.test_client()
        for name, status in (("master.m3u8", 403), ("video.mp4", 403), ("720p/seg-1.m4s", 200)):
            with client.get(f"/vods/{vod.session_id}/{name}") as response:
                response.get_data()
            assert response.status_code == status, name
        client.set_cookie(MATURE_COOKIE, gate.cookie_value(other, gate.ANONYMOUS))
        with client.get(f"/vods/{vod.session_id}/master.m3u8") as response:
            assert response.status_code == 200 and response.get_data().startswith(b"#EXTM3U")


def test_the_download_of_a_mature_vod_needs_the_pass(app, login, people):
    vod = label(make_vod(people["owner"], public=True))
    minor = login("kiddo")
    assert minor.get(f"/c/maker/videos/{vod.id}/download").status_code == 403
    pass_interstitial(people["adult"])
    with login("grownup").get(f"/c/maker/videos/{vod.id}/download") as response:
        response.get_data()
    assert response.status_code == 200
