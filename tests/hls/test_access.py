"""A session's live HLS is served while it is live or waiting out the reconnect grace, and not
once it has ended: nginx's check (/internal/hls-access) and the app's own /hls/ answers agree."""
import uuid
from pathlib import Path

import pytest

from app.extensions import db
from app.hls import access
from app.models import StreamSession, utcnow
from app.storage.atomic import write_atomic
from tests.factories import make_user

from .playlists import live_playlist


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(MEDIA_ROOT=str(tmp_path))
    access.forget()
    with app.app_context():
        yield app
    access.forget()


def new_session(status: str) -> StreamSession:
    user = make_user(f"u{uuid.uuid4().hex[:8]}")
    session = StreamSession(channel=user.channel, internal_name=f"st-{uuid.uuid4().hex[:16]}",
                            status=status, started_at=utcnow())
    if status == "reconnecting":
        session.publisher_left_at = utcnow()
    if status == "ended":
        session.ended_at = utcnow()
    db.session.add(session)
    db.session.commit()
    return session


def write_stream(root: Path, name: str) -> None:
    """What the packager leaves: a master playlist, a rung's playlist and its parts."""
    rung = root / "hls" / name / "720p"
    rung.mkdir(parents=True)
    write_atomic(root / "hls" / name / "master.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n")
    write_atomic(rung / "index.m3u8", live_playlist(segments=3).encode())
    for msn in range(3):
        for part in range(3):
            (rung / f"p{msn}.{part}.m4s").write_bytes(b"part")


def ask(client, name: str):
    return client.get("/internal/hls-access", headers={access.HEADER: name})


@pytest.mark.parametrize("status, answer", [("live", 204), ("reconnecting", 204), ("ended", 403)])
def test_nginx_is_told_whether_the_session_is_open(app, client, status, answer):
    session = new_session(status)
    response = ask(client, session.internal_name)
    assert response.status_code == answer and response.data == b""


@pytest.mark.parametrize("name", ["", "st-xyz", "../st-0123456789abcdef", "st-0123456789ABCDEF"])
def test_anything_but_an_internal_name_is_refused(app, client, name):
    assert ask(client, name).status_code == 403


def test_a_name_no_session_has_is_left_to_the_files(app, client):
    assert ask(client, f"st-{uuid.uuid4().hex[:16]}").status_code == 204


def test_nginx_hears_of_the_end_at_once(app, client):
    """nginx keeps its answer a second itself: the app's answer to it is never a remembered one
    (one on top of the other served an ended session for up to twice as long)."""
    session = new_session("live")
    assert ask(client, session.internal_name).status_code == 204
    session.status, session.ended_at = "ended", utcnow()
    db.session.commit()
    assert ask(client, session.internal_name).status_code == 403


def test_the_apps_own_answers_are_remembered_for_a_second(app, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: clock[0])
    access.forget()
    session = new_session("live")
    assert not access.ended(session.internal_name)
    session.status, session.ended_at = "ended", utcnow()
    db.session.commit()
    assert not access.ended(session.internal_name)  # remembered
    clock[0] += access.REMEMBER_SECONDS + 0.01
    assert access.ended(session.internal_name)


@pytest.mark.parametrize("status", ["live", "reconnecting", "ended"])
def test_the_apps_own_hls_answers_follow_the_same_rule(app, client, tmp_path, status):
    """What nginx hands the app (blocking reloads, hinted parts, the master when the bucket
    fails) is refused once the session has ended, although every file is still there."""
    session = new_session(status)
    name = session.internal_name
    write_stream(tmp_path, name)
    paths = [f"/hls/{name}/master.m3u8", f"/hls/{name}/720p/index.m3u8?_HLS_msn=1&_HLS_part=0",
             f"/hls/{name}/720p/p0.0.m4s"]
    for path in paths:
        response = client.get(path)
        response.close()  # a served part is an open file
        assert response.status_code == (404 if status == "ended" else 200), path
    assert (tmp_path / "hls" / name / "720p" / "p0.0.m4s").exists()
