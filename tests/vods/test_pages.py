"""VOD pages: the creator's manager and its actions, a channel's videos, the watch page, chat
replay and downloads; each as page and htmx fragment, access over roles, bad input changes nothing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import VOD
from app.storage.backends import get_storage
from app.vods import services
from tests.conftest import csrf_from, page_text
from tests.factories import make_user
from tests.vods.factory import MP4, ended_session, make_vod, say

HX = {"HX-Request": "true"}


@pytest.fixture
def people(app):
    """The channel owner, an admin, another user; each has a channel of their own."""
    return {"owner": make_user("streamer"), "admin": make_user("boss", admin=True),
            "other": make_user("viewer")}


@pytest.fixture
def owner_client(people, login):
    return login("streamer")


def client_for(role, app, login):
    return app.test_client() if role == "anonymous" else login({"owner": "streamer", "admin": "boss",
                                                               "other": "viewer"}[role])


def token(client, path="/dashboard/videos") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def fresh(vod_id: int) -> VOD | None:
    db.session.expire_all()
    return db.session.get(VOD, vod_id)


# --- the manager ---------------------------------------------------------------------------------

def test_manager_needs_a_login(client, people):
    response = client.get("/dashboard/videos")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_manager_lists_your_videos_as_page_and_fragment(owner_client, people):
    owner = people["owner"]
    vod = make_vod(owner, title="Speedrun night", duration=4000, public=True)
    private = make_vod(owner, title="Just chatting")
    make_vod(people["other"], title="Not yours")
    page = owner_client.get("/dashboard/videos")
    text = page_text(page)
    assert page.status_code == 200 and "<html" in text
    assert "Speedrun night" in text and "Just chatting" in text and "Not yours" not in text
    assert "1:06:40" in text and "16.4 KB" in text
    assert f'src="/vods/{vod.session_id}/poster.jpg"' in text
    assert 'class="vis-badge vis-private">Private' in text and 'class="vis-badge vis-public">Public' in text
    assert f'href="/c/streamer/videos/{private.id}/download"' in text
    fragment = owner_client.get("/dashboard/videos", headers=HX)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<section id="vod-library"')
    assert "Speedrun night" in body and "HX-Request" in fragment.headers["Vary"]


def test_manager_empty_state_says_how_to_get_videos(owner_client, people):
    text = page_text(owner_client.get("/dashboard/videos"))
    assert "No videos yet" in text
    assert 'id="vod-processing"' in text and "Processing your last broadcast" not in text


def test_processing_notice_polls_until_the_vod_exists(owner_client, people):
    owner = people["owner"]
    owner.channel.record = True
    db.session.commit()
    session = ended_session(owner, ended_ago=timedelta(seconds=10))
    page = page_text(owner_client.get("/dashboard/videos"))
    assert "Processing your last broadcast…" in page and 'hx-trigger="every 5s"' in page
    polled = owner_client.get("/dashboard/videos/processing", headers=HX)
    assert "Processing your last broadcast" in page_text(polled) and "HX-Trigger" not in polled.headers
    # The VOD job finishes this broadcast.
    db.session.add(VOD(channel_id=owner.channel.id, session_id=session.id, storage_prefix=f"vods/{session.id}/",
                       object_key=f"vods/{session.id}/master.m3u8"))
    db.session.commit()
    done = owner_client.get("/dashboard/videos/processing", headers=HX)
    assert "Processing" not in page_text(done) and 'id="vod-processing"' in page_text(done)
    assert done.headers["HX-Trigger"] == "vods-changed"


@pytest.mark.parametrize("htmx", [True, False])
def test_publish_and_unpublish(owner_client, people, htmx):
    vod = make_vod(people["owner"])
    headers = {**HX, "X-CSRFToken": token(owner_client)} if htmx else {}
    data = {} if htmx else {"csrf_token": token(owner_client)}
    response = owner_client.post(f"/dashboard/videos/{vod.id}/visibility", data={**data, "visibility": "public"},
                                 headers=headers)
    assert fresh(vod.id).visibility == "public" and fresh(vod.id).published_at is not None
    if htmx:
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and body.lstrip().startswith(f'<li class="vod-row" id="vod-{vod.id}"')
        assert "Unpublish" in body
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard/videos")
    owner_client.post(f"/dashboard/videos/{vod.id}/visibility", data={**data, "visibility": "private"},
                      headers=headers)
    assert fresh(vod.id).visibility == "private" and fresh(vod.id).published_at is None


def test_bad_visibility_and_missing_csrf_change_nothing(owner_client, people):
    vod = make_vod(people["owner"])
    bad = owner_client.post(f"/dashboard/videos/{vod.id}/visibility", data={"visibility": "everyone"},
                            headers={**HX, "X-CSRFToken": token(owner_client)})
    assert bad.status_code == 200 and "Choose public or private." in page_text(bad)
    plain = owner_client.post(f"/dashboard/videos/{vod.id}/visibility",
                              data={"visibility": "everyone", "csrf_token": token(owner_client)})
    assert plain.status_code == 400 and "Choose public or private." in page_text(plain)
    forged = owner_client.post(f"/dashboard/videos/{vod.id}/visibility", data={"visibility": "public"})
    assert forged.status_code == 400
    assert fresh(vod.id).visibility == "private"


def test_rename_inline(owner_client, people):
    vod = make_vod(people["owner"], title="Old title")
    form = owner_client.get(f"/dashboard/videos/{vod.id}/rename", headers=HX)
    body = page_text(form)
    assert body.lstrip().startswith(f'<li class="vod-row is-rename" id="vod-{vod.id}"')
    assert 'name="title"' in body and 'value="Old title"' in body and "<html" not in body
    assert "<html" in owner_client.get(f"/dashboard/videos/{vod.id}/rename").get_data(as_text=True)
    saved = owner_client.post(f"/dashboard/videos/{vod.id}/rename", data={"title": "  <b>New</b> title "},
                              headers={**HX, "X-CSRFToken": token(owner_client)})
    assert saved.status_code == 200 and "&lt;b&gt;New&lt;/b&gt; title" in saved.get_data(as_text=True)
    assert fresh(vod.id).title == "<b>New</b> title"
    plain = owner_client.post(f"/dashboard/videos/{vod.id}/rename",
                              data={"title": "Plain", "csrf_token": token(owner_client)})
    assert plain.status_code == 303 and fresh(vod.id).title == "Plain"


@pytest.mark.parametrize("title, error", [("", "Give the video a title."), ("   ", "Give the video a title."),
                                          ("x" * 141, "Titles are at most 140 characters")])
@pytest.mark.parametrize("htmx", [True, False])
def test_rename_refuses_bad_titles_and_changes_nothing(owner_client, people, title, error, htmx):
    vod = make_vod(people["owner"], title="Keep me")
    headers = {**HX, "X-CSRFToken": token(owner_client)} if htmx else {}
    data = {"title": title} if htmx else {"title": title, "csrf_token": token(owner_client)}
    response = owner_client.post(f"/dashboard/videos/{vod.id}/rename", data=data, headers=headers)
    text = page_text(response)
    assert response.status_code == 200 and error in text
    assert ('<html' in text) is not htmx and 'aria-invalid="true"' in text
    assert fresh(vod.id).title == "Keep me"


def test_delete_asks_first_then_removes_objects_and_row(owner_client, people):
    vod, keep = make_vod(people["owner"], title="Doomed"), make_vod(people["owner"], title="Keeper")
    prefix, vod_id = vod.storage_prefix, vod.id
    confirm = owner_client.get(f"/dashboard/videos/{vod.id}/delete", headers=HX)
    assert "Delete “Doomed” for good?" in page_text(confirm) and "<html" not in page_text(confirm)
    page = owner_client.get(f"/dashboard/videos/{vod.id}/delete")  # the no-JavaScript step
    assert "Delete “Doomed” for good?" in page_text(page) and "<html" in page_text(page)
    assert fresh(vod.id) is not None
    response = owner_client.post(f"/dashboard/videos/{vod_id}/delete",
                                 headers={**HX, "X-CSRFToken": token(owner_client)})
    text = page_text(response)
    assert response.status_code == 200 and text.lstrip().startswith('<section id="vod-library"')
    assert "Deleted “Doomed”." in text and "Keeper" in text and f'id="vod-{vod_id}"' not in text
    assert fresh(vod_id) is None
    assert list(get_storage().list(prefix)) == []
    keep_id = keep.id
    plain = owner_client.post(f"/dashboard/videos/{keep_id}/delete", data={"csrf_token": token(owner_client)})
    assert plain.status_code == 303 and fresh(keep_id) is None
    assert "Deleted “Keeper”." in page_text(owner_client.get("/dashboard/videos"))


def test_delete_without_csrf_changes_nothing(owner_client, people):
    vod = make_vod(people["owner"])
    assert owner_client.post(f"/dashboard/videos/{vod.id}/delete").status_code == 400
    assert fresh(vod.id) is not None and len(list(get_storage().list(vod.storage_prefix))) == 5


@pytest.mark.parametrize("action, data", [("visibility", {"visibility": "public"}), ("rename", {"title": "Mine now"}),
                                          ("delete", {})])
def test_someone_elses_or_unknown_vod_is_404_and_unchanged(owner_client, people, action, data):
    theirs = make_vod(people["other"], title="Theirs")
    csrf = token(owner_client)
    for vod_id in (theirs.id, theirs.id + 1000):
        response = owner_client.post(f"/dashboard/videos/{vod_id}/{action}", data=data,
                                     headers={**HX, "X-CSRFToken": csrf})
        assert response.status_code == 404
    form_page = "rename" if action == "visibility" else action  # visibility has no GET
    assert owner_client.get(f"/dashboard/videos/{theirs.id}/{form_page}").status_code == 404
    assert owner_client.get(f"/dashboard/videos/{theirs.id}").status_code == 404
    vod = fresh(theirs.id)
    assert vod.title == "Theirs" and vod.visibility == "private"
    assert len(list(get_storage().list(vod.storage_prefix))) == 5


# --- a channel's videos --------------------------------------------------------------------------

def test_channel_videos_public_for_everyone_private_for_the_owner(app, people, owner_client):
    owner = people["owner"]
    make_vod(owner, title="Published one", public=True, duration=75)
    make_vod(owner, title="Secret one")
    anonymous = page_text(app.test_client().get("/c/streamer/videos"))
    assert "Published one" in anonymous and "1:15" in anonymous and "Secret one" not in anonymous
    assert 'aria-current="page">Videos' in anonymous
    mine = page_text(owner_client.get("/c/streamer/videos"))
    assert "Secret one" in mine and 'class="badge badge-private">Private' in mine
    fragment = owner_client.get("/c/streamer/videos", headers=HX)
    assert page_text(fragment).lstrip().startswith('<section id="vod-grid"') and "<html" not in page_text(fragment)
    assert app.test_client().get("/c/nobody/videos").status_code == 404


def test_channel_videos_grow_with_more(app, people, monkeypatch):
    monkeypatch.setattr(services, "PAGE_SIZE", 2)
    for n in range(3):
        make_vod(people["owner"], title=f"Video {n}", public=True, objects=False)
    client = app.test_client()
    first = page_text(client.get("/c/streamer/videos"))
    assert "Video 2" in first and "Video 1" in first and "Video 0" not in first
    assert 'hx-get="/c/streamer/videos?page=2"' in first
    more = page_text(client.get("/c/streamer/videos?page=2", headers=HX))
    assert "Video 0" in more and "More videos" not in more
    assert client.get("/c/streamer/videos?page=abc").status_code == 200


def test_empty_channel_videos(app, people):
    text = page_text(app.test_client().get("/c/streamer/videos"))
    assert "No videos yet" in text


# --- the watch page, chat replay and downloads ---------------------------------------------------

ACCESS = [  # role, public?, allowed?
    ("owner", False, True), ("admin", False, True), ("other", False, False), ("anonymous", False, False),
    ("owner", True, True), ("admin", True, True), ("other", True, True), ("anonymous", True, True),
]


@pytest.mark.parametrize("role, public, allowed", ACCESS)
def test_watch_page_access(app, people, login, role, public, allowed):
    vod = make_vod(people["owner"], title="The broadcast", public=public)
    client = client_for(role, app, login)
    response = client.get(f"/c/streamer/videos/{vod.id}")
    assert response.status_code == (200 if allowed else 404)
    if allowed:
        text = page_text(response)
        assert "The broadcast" in text
        assert f'data-src="/vods/{vod.session_id}/master.m3u8"' in text
        assert f'data-thumbnails="/vods/{vod.session_id}/thumbnails.vtt"' in text
        assert f'data-chat-url="/c/streamer/videos/{vod.id}/chat"' in text
        assert "js/vod-player.js" in text and "vendor/hls-1.7.4.min.js" in text
        assert ("/download" in text) is (role in ("owner", "admin"))
    for path in ("chat?after=2026-01-01T00:00:00Z", "download"):
        assert client.get(f"/c/streamer/videos/{vod.id}/{path}").status_code == (200 if allowed else 404)


def test_watch_page_needs_the_right_channel(app, people):
    vod = make_vod(people["owner"], public=True)
    client = app.test_client()
    assert client.get(f"/c/viewer/videos/{vod.id}").status_code == 404
    assert client.get(f"/c/nobody/videos/{vod.id}").status_code == 404
    assert client.get(f"/c/streamer/videos/{vod.id + 1000}").status_code == 404
    assert client.get(f"/c/STREAMER/videos/{vod.id}").status_code == 200


def test_chat_replay_returns_the_broadcasts_messages_in_a_window(app, people):
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    vod = make_vod(people["owner"], public=True, started_at=start)
    fan = people["other"]
    hello = say(vod, fan, "hello <there>", start + timedelta(seconds=3))
    say(vod, fan, "hidden", start + timedelta(seconds=4), state="deleted")
    later = say(vod, fan, "later", start + timedelta(seconds=90))
    client = app.test_client()
    response = client.get(f"/c/streamer/videos/{vod.id}/chat",
                          query_string={"after": "2026-03-01T20:00:00Z", "until": "2026-03-01T20:01:00Z"})
    assert response.status_code == 200 and response.is_json
    [item] = response.get_json()["items"]
    assert item["id"] == hello.id and item["ts"].startswith("2026-03-01T20:00:03")
    assert "hello &lt;there&gt;" in item["html"] and f'id="chat-{hello.id}"' in item["html"]
    next_window = client.get(f"/c/streamer/videos/{vod.id}/chat", query_string={"after": "2026-03-01T20:01:00Z"})
    assert [i["id"] for i in next_window.get_json()["items"]] == [later.id]


def test_chat_replay_before_a_moment_gives_the_last_messages_said(app, people):
    start = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    vod = make_vod(people["owner"], public=True, started_at=start)
    fan = people["other"]
    early = say(vod, fan, "long before", start + timedelta(seconds=3))
    say(vod, fan, "after the seek", start + timedelta(minutes=10, seconds=1))
    response = app.test_client().get(f"/c/streamer/videos/{vod.id}/chat",
                                     query_string={"before": "2026-03-01T20:10:00Z"})
    assert response.status_code == 200
    assert [i["id"] for i in response.get_json()["items"]] == [early.id]


@pytest.mark.parametrize("query", [{}, {"after": "soon"}, {"after": "2026-03-01T20:00:00Z", "until": "later"},
                                   {"before": ""}, {"before": "yesterday"}])
def test_chat_replay_refuses_bad_times_with_a_reason(app, people, query):
    vod = make_vod(people["owner"], public=True)
    response = app.test_client().get(f"/c/streamer/videos/{vod.id}/chat", query_string=query)
    assert response.status_code == 400 and "ISO 8601" in response.get_json()["message"]


def test_download_streams_the_mp4_as_an_attachment(owner_client, people):
    vod = make_vod(people["owner"], title='Night "one" ☕')
    response = owner_client.get(f"/c/streamer/videos/{vod.id}/download")
    assert response.status_code == 200 and response.mimetype == "video/mp4"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Night one.mp4"'
    assert response.headers["Content-Length"] == str(len(MP4)) and response.get_data() == MP4
    get_storage().delete(vod.download_key)
    assert owner_client.get(f"/c/streamer/videos/{vod.id}/download").status_code == 404


def test_download_streams_from_s3_too(make_app, s3_config):
    app = make_app(**s3_config)
    with app.app_context():
        vod = make_vod(make_user("streamer"), title="On S3", public=True)
        assert get_storage().name == "s3"
        response = app.test_client().get(f"/c/streamer/videos/{vod.id}/download")
        assert response.status_code == 200 and response.get_data() == MP4
        assert response.headers["Content-Disposition"] == 'attachment; filename="On S3.mp4"'
        assert response.headers["Content-Length"] == str(len(MP4))
        get_storage().delete(vod.download_key)
        assert app.test_client().get(f"/c/streamer/videos/{vod.id}/download").status_code == 404


# --- links from the rest of the site -------------------------------------------------------------

def test_channel_page_and_dashboard_link_to_videos(app, people, owner_client):
    channel_page = page_text(app.test_client().get("/c/streamer"))
    assert 'href="/c/streamer/videos"' in channel_page
    assert 'href="/dashboard/videos"' in page_text(owner_client.get("/dashboard"))


def test_profile_recent_broadcasts_link_to_watch_pages(app, people):
    vod = make_vod(people["owner"], title="Profile VOD", public=True, duration=3725)
    text = page_text(app.test_client().get("/u/streamer"))
    assert f'href="/c/streamer/videos/{vod.id}"' in text and "1:02:05" in text
    assert f'src="/vods/{vod.session_id}/poster.jpg"' in text
