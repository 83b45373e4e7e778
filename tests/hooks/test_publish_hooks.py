"""Publish hooks as nginx-rtmp and SRS call them, with real Redis and the real job queue, and the
rules behind them: placement on a live host, announcing only once playable (once per broadcast),
fencing by lease token, and Stop's cool-down."""
import logging
import socket
from datetime import timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app.channels import services as channels
from app.extensions import db, get_redis
from app.follow import services as follows
from app.jobs import queue
from app.live import hosts
from app.live.state import LiveKeys
from app.models import StreamSession, utcnow
from app.streams import services as streams
from tests.conftest import page_text
from tests.factories import beat, make_user

# Leases fenced by conditional updates, grace periods and expiry: per database.
pytestmark = pytest.mark.both_databases

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


@pytest.fixture(autouse=True)
def ingest_unreachable(app):
    """Stop and key rotation ask the ingest server's control API (on HOOK_PORT) to drop the
    publisher. Here nothing answers there: a port bound but never listening refuses at once."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        app.config["HOOK_PORT"] = closed.getsockname()[1]
        yield


def queued(app):
    return [job.func_name for job in queue().jobs]


def every_queued_job() -> list[str]:
    """Jobs waiting on any RQ queue in the test Redis database."""
    return [job.func_name for q in Queue.all(connection=get_redis()) for job in q.jobs]


def publish(client, key, **extra):
    return client.post("/hooks/rtmp/publish", data=nginx_form(key, **extra), headers=SECRET)


def notify_jobs(app) -> list[tuple]:
    return [tuple(job.args) for job in queue().jobs if job.func_name == "workers.follow.notify_followers"]


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
    assert session.mode is None and session.host is None and session.playable_at is None
    assert every_queued_job() == []  # no transcode job: a live host takes the session
    assert key not in caplog.text
    # Not announced until a live host says viewers can play it.
    assert not reload(user.channel).is_live
    body = client.get("/api/v1/channels/alice").get_json()
    assert body["live"] is False and body["hls_url"] is None
    assert streams.claim_session(session.id, host="host-a", token=1, mode="ladder", reason="Full quality ladder.")
    assert streams.mark_playable(session.id, 1) is True
    session = reload(session)
    assert reload(user.channel).is_live and session.playable_at is not None and session.announced
    body = client.get("/api/v1/channels/alice").get_json()
    assert body["live"] is True and body["hls_url"] == f"/hls/{session.internal_name}/master.m3u8"


def test_publish_wakes_the_live_hosts_and_places_the_session(app, client, alice):
    keys = LiveKeys(app.config)
    hosts.publish(get_redis(), keys, hosts.HostInfo(id="host-busy", hostname="a", pid=1, cpu_count=4,
                                                    capacity_cores=3.4, hw_sessions=0, encoder="libx264",
                                                    reserved_cores=3.0))
    hosts.publish(get_redis(), keys, hosts.HostInfo(id="host-free", hostname="b", pid=2, cpu_count=8,
                                                    capacity_cores=6.8, hw_sessions=0, encoder="libx264"))
    wake = get_redis().pubsub(ignore_subscribe_messages=True)
    wake.subscribe(keys.wake)
    try:
        wake.get_message(timeout=1)  # the subscribe confirmation, ignored
        assert publish(client, alice[1]).status_code == 302
        session = db.session.query(StreamSession).one()
        assert hosts.placed_on(get_redis(), keys, session.id) == "host-free"
        message = wake.get_message(timeout=2)
        assert message is not None and message["data"] == f"placed:{session.id}".encode()
    finally:
        wake.close()


def test_publish_with_no_live_host_running_still_opens_the_session(app, client, alice, caplog):
    caplog.set_level(logging.INFO)
    assert publish(client, alice[1]).status_code == 302
    session = db.session.query(StreamSession).one()
    assert hosts.placed_on(get_redis(), LiveKeys(app.config), session.id) is None
    assert "no live host is running" in caplog.text


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


def test_a_ghost_session_does_not_refuse_its_creator(app, client, alice, ingest_stat):
    """nginx stopped (or the app was away) and publish_done never came: the session is live in the
    database, but nginx holds no publisher on it and no media reaches a host. The creator's next
    publish resumes it instead of being refused."""
    _, key = alice
    assert client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).status_code == 302
    session = db.session.query(StreamSession).one()
    ingest_stat.publishing = {session.internal_name}
    assert client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).status_code == 403
    # Media still reaches its host (an nginx reload hides the old worker's publishers): refused too.
    ingest_stat.publishing = set()
    get_redis().set(LiveKeys(app.config).stats(session.id), '{"input_age": 0.5}', ex=5)
    assert client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET).status_code == 403
    get_redis().delete(LiveKeys(app.config).stats(session.id))
    response = client.post("/hooks/rtmp/publish", data=nginx_form(key, clientid="9"), headers=SECRET)
    assert response.status_code == 302 and response.headers["Location"] == session.internal_name
    session = reload(session)
    assert session.status == "live" and session.client_id == "9"
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
    assert "workers.live.finish.finish_session" in queued(app)
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
    session = streams.go_live(key, ingest="nginx", client_id="1")
    streams.mark_playable(session.id, 0)
    for viewer in ("viewer-aaaa", "viewer-bbbb", "viewer-aaaa"):
        body = client.post("/api/v1/channels/alice/watch", json=beat(user.channel, viewer)).get_json()
    assert body["viewers"] == 2 and body["live"] is True
    assert client.get("/api/v1/channels/alice").get_json()["viewers"] == 2
    assert reload(db.session.query(StreamSession).one()).peak_viewers == 2


# --- announcing: once playable, once per broadcast ------------------------------------------

def test_mark_playable_announces_followers_once_per_broadcast(app, client, alice):
    user, key = alice
    follows.follow(make_user("fan"), reload(user.channel))
    name = publish(client, key).headers["Location"]
    session = db.session.query(StreamSession).one()
    assert notify_jobs(app) == []  # publishing alone announces nothing
    assert streams.mark_playable(session.id, 0) is True
    assert notify_jobs(app) == [(session.id,)]
    assert streams.mark_playable(session.id, 0) is True  # the host says so again: no second notice
    assert notify_jobs(app) == [(session.id,)]
    queue().empty()

    # OBS drops and comes back within the grace: the same broadcast, no new notice.
    client.post("/hooks/rtmp/publish_done", data=nginx_form(name), headers=SECRET)
    assert not reload(user.channel).is_live
    assert streams.mark_playable(session.id, 0) is False  # not while the publisher is away
    assert publish(client, key, clientid="9").headers["Location"] == name
    assert not reload(user.channel).is_live  # offline until the host has it playable again
    assert streams.mark_playable(session.id, 0) is True
    assert reload(user.channel).is_live and notify_jobs(app) == []

    # After the grace it is a new broadcast, announced again.
    client.post("/hooks/rtmp/publish_done", data=nginx_form(name, clientid="9"), headers=SECRET)
    old = reload(session)
    old.publisher_left_at = utcnow() - timedelta(seconds=31)
    db.session.commit()
    publish(client, key)
    new = db.session.query(StreamSession).filter(StreamSession.status == "live").one()
    assert new.id != session.id and not new.announced
    streams.mark_playable(new.id, 0)
    assert notify_jobs(app) == [(new.id,)]


def test_mark_playable_from_a_host_that_lost_the_session_changes_nothing(client, alice):
    user, key = alice
    publish(client, key)
    session = db.session.query(StreamSession).one()
    assert streams.claim_session(session.id, host="host-b", token=5)
    assert streams.mark_playable(session.id, 4) is False
    session = reload(session)
    assert session.playable_at is None and not session.announced and not reload(user.channel).is_live
    assert streams.mark_playable(session.id, 5) is True
    assert reload(user.channel).is_live


def test_claim_session_is_fenced_by_the_lease_token(client, alice):
    _, key = alice
    publish(client, key)
    session = db.session.query(StreamSession).one()
    ladder = [{"name": "720p", "width": 1280, "height": 720, "fps": 30, "video_kbps": 3000}]
    assert streams.claim_session(session.id, host="host-a", token=5, mode="ladder",
                                 reason="Full quality ladder: 720p.", renditions=ladder) is True
    # An older owner (token 3) that has not noticed it lost the session writes nothing.
    assert streams.claim_session(session.id, host="host-old", token=3, mode="passthrough",
                                 reason="stale", renditions=[]) is False
    session = reload(session)
    assert (session.host, session.lease_token, session.mode) == ("host-a", 5, "ladder")
    assert session.mode_reason == "Full quality ladder: 720p." and session.renditions == ladder
    # A newer owner takes over; what it does not say stays as it was.
    assert streams.claim_session(session.id, host="host-c", token=6) is True
    session = reload(session)
    assert (session.host, session.lease_token, session.mode, session.renditions) == ("host-c", 6, "ladder", ladder)
    assert streams.claim_session(session.id, host="host-c", token=6, reason="x" * 500) is True
    assert len(reload(session).mode_reason) == 400


# --- Stop means stopped ---------------------------------------------------------------------

def test_stop_refuses_the_encoders_reconnect_until_lifted(app, client, alice, caplog):
    user, key = alice
    caplog.set_level(logging.INFO)
    assert publish(client, key).status_code == 302
    assert streams.drop_publisher(reload(user.channel)) is True
    assert streams.stop_cooldown_left(reload(user.channel)) > timedelta(seconds=290)

    # OBS reconnects by itself (nginx-rtmp and SRS alike): refused, and the reason says why.
    refused = publish(client, key, clientid="8")
    assert refused.status_code == 403
    assert "was stopped by its creator; publishing is refused" in refused.get_json()["error"]
    assert "lift it on the dashboard" in refused.get_json()["error"]
    assert "stopped by its creator" in caplog.text
    assert client.post("/hooks/srs/publish", json=srs_body("on_publish", key), headers=SECRET).status_code == 403
    assert db.session.query(StreamSession).filter(StreamSession.status != "ended").count() == 0

    assert streams.lift_stop(reload(user.channel)) is True
    assert streams.lift_stop(reload(user.channel)) is False  # nothing left to lift
    again = publish(client, key, clientid="9")
    assert again.status_code == 302
    assert reload(db.session.query(StreamSession).filter(StreamSession.status == "live").one()).client_id == "9"


def test_go_live_again_now_on_the_dashboard_lets_the_next_publish_in(app, client, alice, actions):
    user, key = alice
    actions.login("alice")
    assert publish(client, key).status_code == 302
    stopped = actions.post("/dashboard/live/stop", token_from="/dashboard", headers={"HX-Request": "true"})
    assert "Stopped — publishing is refused until" in page_text(stopped)
    assert publish(client, key).status_code == 403
    lifted = actions.post("/dashboard/live/go-live-again", token_from="/dashboard")
    assert lifted.status_code == 303
    assert publish(client, key).status_code == 302


def test_the_cool_down_ends_by_itself(client, alice):
    user, key = alice
    streams.drop_publisher(reload(user.channel))
    assert publish(client, key).status_code == 403
    channel = reload(user.channel)
    channel.publish_blocked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert streams.stop_cooldown_left(channel) is None
    assert publish(client, key).status_code == 302


def test_no_cool_down_when_it_is_configured_off(app, client, alice):
    user, key = alice
    app.config["STOP_COOLDOWN_SECONDS"] = 0
    publish(client, key)
    assert streams.drop_publisher(reload(user.channel)) is True
    assert reload(user.channel).publish_blocked_until is None
    assert publish(client, key).status_code == 302


def test_stop_drops_the_publisher_at_the_ingest_server(app, alice, caplog):
    """nginx: its control API on HOOK_PORT; SRS: its HTTP API. Either unreachable is logged, and
    the session is over regardless (a still-connected encoder is refused on its next publish)."""
    user, key = alice
    app.config["SRS_API_URL"] = f"http://127.0.0.1:{app.config['HOOK_PORT']}"
    streams.go_live(key, ingest="srs", client_id="abc")
    assert streams.drop_publisher(reload(user.channel)) is True
    assert "could not reach the ingest server to drop the publisher" in caplog.text
    assert db.session.query(StreamSession).one().status == "ended"


def test_update_drops_the_clients_of_a_session_that_is_over(client, alice):
    """nginx-rtmp's on_update, from whichever worker holds the client (after a reload the app's
    control API cannot reach the old one): 2xx keeps the client, anything else drops it."""
    _, key = alice
    client.post("/hooks/rtmp/publish", data=nginx_form(key), headers=SECRET)
    session = db.session.query(StreamSession).one()
    update = lambda: client.post("/hooks/rtmp/update", headers=SECRET,  # noqa: E731 - a one-line helper local to the test
                                 data={**nginx_form(session.internal_name), "call": "update", "time": "12"})
    # nginx names the publisher by its key in notifications, a player by the internal name.
    as_publisher = lambda clientid="7": client.post(  # noqa: E731 - a one-line helper local to the test
        "/hooks/rtmp/update", headers=SECRET, data={**nginx_form(key, clientid=clientid), "call": "update"})
    assert update().status_code == 200 and as_publisher().status_code == 200
    assert as_publisher(clientid="3").status_code == 403  # not the session's publisher (any more)
    streams.publisher_left(reload(session))
    assert update().status_code == 403 and as_publisher().status_code == 403
    streams.rotate_stream_key(alice[0].channel)
    assert as_publisher().status_code == 403  # the old key is over too
    assert client.post("/hooks/rtmp/update", data=nginx_form("someone-elses"),
                       headers=SECRET).status_code == 200
    assert client.post("/hooks/rtmp/update", data=nginx_form(session.internal_name)).status_code == 403  # no secret


def test_publish_done_of_a_publisher_the_session_no_longer_has_changes_nothing(client, alice):
    """A ghost resumed by a new publisher: the old one's publish_done (when its worker lets it
    go) must not send the resumed session into its grace period."""
    _, key = alice
    client.post("/hooks/rtmp/publish", data=nginx_form(key, clientid="40"), headers=SECRET)
    session = db.session.query(StreamSession).one()
    client.post("/hooks/rtmp/publish_done", headers=SECRET,
                data={**nginx_form(session.internal_name, clientid="12"), "call": "publish_done"})
    assert reload(session).status == "live"
    client.post("/hooks/rtmp/publish_done", headers=SECRET,
                data={**nginx_form(session.internal_name, clientid="40"), "call": "publish_done"})
    assert reload(session).status == "reconnecting"
