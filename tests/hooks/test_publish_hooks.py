"""Publish hooks as nginx-rtmp and SRS call them, with real Redis and the real job queue."""
import logging
from datetime import timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app.channels import services as channels
from app.extensions import db, get_redis
from app.jobs import queue
from app.models import StreamSession, utcnow
from app.streams import services as streams
from tests.factories import make_user

SECRET = {"X-Hook-Secret": "test-hook-secret"}


def nginx_form(name, **extra):
    # The fields nginx-rtmp's notify module posts (ngx_rtmp_notify_module.c).
    return {"call": "publish", "name": name, "app": "live", "addr": "127.0.0.1", "clientid": "7",
            "tcurl": "rtmp://127.0.0.1:1935/live", "flashver": "FMLE/3.0", "type": "live", **extra}


def srs_body(action, stream, client_id="3l4p9d1z"):
    # A real SRS 5 on_publish/on_unpublish callback body (srs_app_http_hooks.cpp).
    return {"server_id": "vid-0xk989d", "service_id": "nz9ig9nf", "action": action,
            "client_id": client_id, "ip": "127.0.0.1", "vhost": "__defaultVhost__", "app": "live",
            "tcUrl": "rtmp://127.0.0.1:1935/live", "stream": stream, "param": "",
            "stream_url": f"/live/{stream}", "stream_id": "vid-123abc"}


@pytest.fixture
def alice(app):
    user = make_user("alice")
    key = channels.rotate_stream_key(user.channel)
    return user, key


def queued(app, kind="default"):
    return [job.func_name for job in queue(kind).jobs]


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def test_hooks_refuse_without_the_secret(client, alice):
    _, key = alice
    for headers in ({}, {"X-Hook-Secret": "wrong"}):
        response = client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=headers)
        assert response.status_code == 403
    assert db.session.query(StreamSession).count() == 0


def test_publish_renames_to_internal_name_and_opens_a_session(app, client, alice, caplog):
    user, key = alice
    caplog.set_level(logging.INFO)
    response = client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET)
    assert response.status_code == 302
    session = db.session.query(StreamSession).one()
    assert response.headers["Location"] == session.internal_name
    assert session.internal_name.startswith("st-") and key not in session.internal_name
    assert session.status == "live" and session.client_id == "7" and session.ingest == "nginx"
    assert reload(user.channel).is_live
    assert queued(app, "transcode") == ["workers.transcode.transcode_session"]
    assert queued(app) == []
    assert key not in caplog.text
    body = client.get("/api/v1/channels/alice").get_json()
    assert body["live"] is True and body["hls_url"] == f"/hls/{session.internal_name}/master.m3u8"


@pytest.mark.parametrize("bad", ["", "nonsense", "live_1_", "live_999_abcdef", "live_x_y"])
def test_unknown_keys_are_refused(client, alice, bad, caplog):
    caplog.set_level(logging.INFO)
    response = client.post("/hooks/rtmp/publish", data=nginx_form(bad), headers=SECRET)
    assert response.status_code == 403
    assert "unknown or rotated stream key" in caplog.text
    assert db.session.query(StreamSession).count() == 0


def test_rotated_key_is_refused(client, alice):
    user, old = alice
    channels.rotate_stream_key(reload(user.channel))
    assert client.post("/hooks/rtmp/publish", data=nginx_form(old), headers=SECRET).status_code == 403


def test_other_channels_key_with_my_id_is_refused(client, alice):
    user, _ = alice
    bob = make_user("bob")
    bobs_key = channels.rotate_stream_key(bob.channel)
    forged = f"live_{user.channel.id}_{bobs_key.split('_', 2)[2]}"
    assert client.post("/hooks/rtmp/publish", data=nginx_form(forged), headers=SECRET).status_code == 403


def test_banned_and_disabled_channels_are_refused(client, alice, caplog):
    user, key = alice
    caplog.set_level(logging.INFO)
    channel = reload(user.channel)
    channel.live_banned = True
    db.session.commit()
    assert client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).status_code == 403
    assert "banned from going live" in caplog.text
    channel.live_banned = False
    channel.owner.disabled = True
    db.session.commit()
    assert client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).status_code == 403


def test_second_publisher_is_refused(client, alice):
    _, key = alice
    assert client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).status_code == 302
    response = client.post("/hooks/rtmp/publish", data=nginx_form(key, clientid="8"), headers=SECRET)
    assert response.status_code == 403
    assert db.session.query(StreamSession).count() == 1


def test_publish_done_goes_offline_and_schedules_expiry(app, client, alice):
    user, key = alice
    client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET)
    session = db.session.query(StreamSession).one()
    response = client.post("/hooks/rtmp/publish_done",
                           data={**nginx_form(session.internal_name), "call": "publish_done"}, headers=SECRET)
    assert response.status_code == 200
    session = reload(session)
    assert session.status == "reconnecting" and session.publisher_left_at is not None
    assert not reload(user.channel).is_live
    assert client.get("/api/v1/channels/alice").get_json()["live"] is False
    scheduled = ScheduledJobRegistry(app.config["RQ_QUEUE"], connection=get_redis()).get_job_ids()
    jobs = [Queue(app.config["RQ_QUEUE"], connection=get_redis()).fetch_job(j).func_name for j in scheduled]
    assert jobs == ["workers.streams.expire_session"]


def test_reconnect_within_grace_continues_the_session(client, alice):
    _, key = alice
    first = client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).headers["Location"]
    client.post("/hooks/rtmp/publish_done", data=nginx_form(first), headers=SECRET)
    again = client.post("/hooks/rtmp/publish", data=nginx_form(key, clientid="9"), headers=SECRET)
    assert again.status_code == 302 and again.headers["Location"] == first
    session = db.session.query(StreamSession).one()
    assert session.status == "live" and session.client_id == "9"


def test_reconnect_after_grace_starts_a_new_session(client, alice):
    _, key = alice
    first = client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).headers["Location"]
    client.post("/hooks/rtmp/publish_done", data=nginx_form(first), headers=SECRET)
    old = db.session.query(StreamSession).one()
    old.publisher_left_at = utcnow() - timedelta(seconds=31)
    db.session.commit()
    again = client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET)
    assert again.headers["Location"] != first
    assert reload(old).status == "ended"


def test_expiry_job_ends_only_overdue_sessions(app, client, alice):
    from workers.streams import expire_session

    _, key = alice
    name = client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).headers["Location"]
    client.post("/hooks/rtmp/publish_done", data=nginx_form(name), headers=SECRET)
    session = db.session.query(StreamSession).one()
    assert streams.expire_session(session) is False  # still inside the grace period
    session.publisher_left_at = utcnow() - timedelta(seconds=40)
    db.session.commit()
    assert streams.expire_session(session) is True
    assert reload(session).status == "ended" and reload(session).ended_at is not None
    assert "workers.transcode.finish_session" in queued(app)
    assert streams.expire_session(reload(session)) is False  # safe to run twice
    assert callable(expire_session)


def test_srs_hooks(client, alice):
    user, key = alice
    response = client.post("/hooks/srs/publish", json=srs_body("on_publish", key), headers=SECRET)
    assert response.status_code == 200 and response.get_json() == {"code": 0}
    session = db.session.query(StreamSession).one()
    assert session.ingest == "srs" and session.client_id == "3l4p9d1z"
    refused = client.post("/hooks/srs/publish", json=srs_body("on_publish", "live_1_wrong"), headers=SECRET)
    assert refused.status_code == 403 and refused.get_json()["code"] != 0
    # An unpublish from some other client of the same name changes nothing.
    client.post("/hooks/srs/unpublish", json=srs_body("on_unpublish", key, "other"), headers=SECRET)
    assert reload(session).status == "live"
    client.post("/hooks/srs/unpublish", json=srs_body("on_unpublish", key), headers=SECRET)
    assert reload(session).status == "reconnecting"
    assert client.post("/hooks/srs/publish", json={"action": "on_play"}, headers=SECRET).status_code == 400


def test_stop_ends_the_session_even_if_ingest_is_unreachable(app, alice, caplog):
    user, key = alice
    streams.go_live(key, ingest="nginx", client_id="1")
    app.config["HOOK_PORT"] = 9  # nothing listens there
    assert streams.drop_publisher(reload(user.channel)) is True
    session = db.session.query(StreamSession).one()
    assert session.status == "ended" and not reload(user.channel).is_live
    assert "could not reach the ingest server" in caplog.text
    assert streams.drop_publisher(reload(user.channel)) is False


def test_viewer_heartbeats_count_and_keep_the_peak(client, alice):
    user, key = alice
    assert client.post("/api/v1/channels/alice/watch", json={"viewer": "short"}).status_code == 400
    offline = client.post("/api/v1/channels/alice/watch", json={"viewer": "viewer-aaaa"}).get_json()
    assert offline["live"] is False and offline["viewers"] == 0
    streams.go_live(key, ingest="nginx", client_id="1")
    for viewer in ("viewer-aaaa", "viewer-bbbb", "viewer-aaaa"):
        body = client.post("/api/v1/channels/alice/watch", json={"viewer": viewer}).get_json()
    assert body["viewers"] == 2 and body["live"] is True
    assert client.get("/api/v1/channels/alice").get_json()["viewers"] == 2
    assert db.session.query(StreamSession).one().peak_viewers == 2
