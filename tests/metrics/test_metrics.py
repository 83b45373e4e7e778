"""GET /metrics: the exposition, who may read it, and what each instrument and source reports."""
from __future__ import annotations

import json
import threading

import pytest
import socketio

from app.extensions import db, get_redis
from app.live.state import LiveKeys
from app.metrics.collectors import parse_stub_status, rtmp_metrics
from app.metrics.sockets import DeliveryCountingManager
from tests.chat.conftest import ChatClient
from tests.conftest import TEST_REDIS_URL
from tests.factories import make_live, make_user
from tests.fakestat import StatServer
from tests.httpd import Quiet, Served
from tests.metrics.scrape import promtool_check_metrics, value

NOBODY = "http://127.0.0.1:9/nginx-status"  # the discard port: no nginx of this box is read
STUB_STATUS = (b"Active connections: 7 \nserver accepts handled requests\n 120 118 940 \n"
               b"Reading: 1 Writing: 2 Waiting: 4 \n")


@pytest.fixture
def app(make_app):
    app = make_app(NGINX_STATUS_URL=NOBODY)
    with app.app_context():
        yield app


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def test_the_exposition_passes_promtool(client):
    client.get("/healthz")
    client.get("/no-such-page")
    text = scrape(client)
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "# TYPE cascade_http_requests_total counter" in text
    assert "# TYPE cascade_http_request_duration_seconds histogram" in text


def test_each_request_is_counted_once_by_route_and_status(client):
    before = scrape(client)
    for _ in range(7):
        assert client.get("/healthz").status_code == 200
    for _ in range(3):
        assert client.get("/no-such-page").status_code == 404
    after = scrape(client)
    assert (value(after, "cascade_http_requests_total", method="GET", endpoint="home.healthz", status="200")
            - (value(before, "cascade_http_requests_total", method="GET", endpoint="home.healthz", status="200")
               or 0)) == 7
    assert (value(after, "cascade_http_requests_total", method="GET", endpoint="none", status="404")
            - (value(before, "cascade_http_requests_total", method="GET", endpoint="none", status="404") or 0)) == 3
    assert (value(after, "cascade_http_request_duration_seconds_count", method="GET", endpoint="home.healthz")
            - (value(before, "cascade_http_request_duration_seconds_count", method="GET",
                     endpoint="home.healthz") or 0)) == 7
    # No path, query or address in any label: only endpoints.
    assert "no-such-page" not in after


@pytest.mark.parametrize(("config", "address", "authorization", "status"), [
    ({}, "127.0.0.1", None, 200),
    ({}, "::1", None, 200),
    ({}, "203.0.113.9", None, 403),
    ({"METRICS_ALLOW": "203.0.113.0/24"}, "203.0.113.9", None, 200),
    ({"METRICS_ALLOW": ""}, "127.0.0.1", None, 403),
    ({"METRICS_TOKEN": "s3cret-token-for-prometheus"}, "203.0.113.9", "Bearer s3cret-token-for-prometheus", 200),
    ({"METRICS_TOKEN": "s3cret-token-for-prometheus"}, "203.0.113.9", "Bearer wrong", 403),
    ({"METRICS_TOKEN": "s3cret-token-for-prometheus"}, "203.0.113.9", "s3cret-token-for-prometheus", 403),
    ({}, "203.0.113.9", "Bearer ", 403),  # no token set: no token opens it
])
def test_only_allowed_networks_or_the_token_may_scrape(make_app, config, address, authorization, status):
    app = make_app(NGINX_STATUS_URL=NOBODY, **config)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = app.test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status
    if status == 403:
        assert b"cascade_" not in response.data


def test_live_sessions_viewers_and_encoder_figures_come_from_the_database_and_redis(app, client):
    from app.streams.viewers import heartbeat

    user = make_user("streamer")
    session = make_live(user)
    session.mode = "ladder"
    waiting = make_live(make_user("other"))  # no live host yet: pending
    db.session.commit()
    stats = {"input": {"fps": 29.97, "kbps": 2500, "video_kbps": 2340}, "speed": 1.3,
             "frames_recent": {"seconds": 10.0, "frames": 300, "dropped": 1.5, "speed": 1.02}, "input_age": 0.4}
    get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps(stats), ex=30)
    for viewer in ("a", "b", "c"):
        heartbeat(user.channel.id, viewer, session, state="playing")
    heartbeat(user.channel.id, "d", session, state="paused")

    text = scrape(client)
    assert value(text, "cascade_live_sessions", status="live", mode="ladder") == 1
    assert value(text, "cascade_live_sessions", status="live", mode="pending") == 1
    assert value(text, "cascade_live_sessions", status="reconnecting", mode="ladder") == 0
    labels = {"session": str(session.id), "channel": user.channel.slug}
    assert value(text, "cascade_live_ingest_bytes_per_second", **labels) == 2_500_000 / 8
    assert value(text, "cascade_live_ingest_frames_per_second", **labels) == 29.97
    assert value(text, "cascade_live_encoder_speed_ratio", **labels) == 1.02  # over 10 s, not the last second
    assert value(text, "cascade_live_encoder_dropped_frames", **labels) == 1.5
    assert value(text, "cascade_live_input_age_seconds", **labels) == 0.4
    assert value(text, "cascade_live_viewers", channel=user.channel.slug) == 3
    assert value(text, "cascade_live_viewers", channel=waiting.channel.slug) == 0
    assert value(text, "cascade_source_up", source="database") == 1
    assert value(text, "cascade_source_up", source="redis") == 1
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # An ended session leaves no series behind.
    session.status = "ended"
    db.session.commit()
    text = scrape(client)
    assert value(text, "cascade_live_ingest_bytes_per_second", **labels) is None
    assert value(text, "cascade_live_viewers", channel=user.channel.slug) is None
    assert value(text, "cascade_live_sessions", status="live", mode="ladder") == 0


def test_rq_queue_depth_and_failed_jobs(app, client):
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    from app.jobs import enqueue, queue

    before = scrape(client)
    name = app.config["RQ_QUEUE"]
    assert value(before, "cascade_rq_jobs", queue=name, state="queued") == 0
    enqueue("workers.follow.notify_followers", 1)
    enqueue("workers.follow.notify_followers", 2)
    failed = enqueue("workers.follow.notify_followers", 3)
    queue().remove(failed)
    FailedJobRegistry(queue=queue()).add(Job.fetch(failed.id, connection=queue().connection), ttl=60)
    text = scrape(client)
    assert value(text, "cascade_rq_jobs", queue=name, state="queued") == 2
    assert value(text, "cascade_rq_jobs", queue=name, state="failed") == 1
    assert value(text, "cascade_rq_workers", queue=name) == 0


def test_a_source_that_does_not_answer_is_reported_and_the_scrape_still_answers(make_app):
    app = make_app(NGINX_STATUS_URL=NOBODY, REDIS_URL="redis://127.0.0.1:9/0")
    text = scrape(app.test_client())
    assert value(text, "cascade_source_up", source="redis") == 0
    assert value(text, "cascade_source_up", source="database") == 1
    assert value(text, "cascade_source_up", source="nginx") == 0
    assert value(text, "cascade_rq_jobs", queue=app.config["RQ_QUEUE"], state="queued") is None


def test_nginx_and_nginx_rtmp_pages_become_metrics(make_app):
    class StubStatus(Quiet):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(STUB_STATUS)))
            self.end_headers()
            self.wfile.write(STUB_STATUS)

    status, stat = Served(StubStatus), StatServer()
    stat.publishing = {"st-0123456789abcdef"}
    try:
        app = make_app(NGINX_STATUS_URL=status.url("/nginx-status"), INGEST_STAT_URL=stat.url)
        text = scrape(app.test_client())
    finally:
        status.close()
        stat.close()
    assert value(text, "cascade_source_up", source="nginx") == 1
    assert value(text, "cascade_source_up", source="nginx_rtmp") == 1
    assert value(text, "cascade_nginx_connections", state="active") == 7
    assert value(text, "cascade_nginx_connections", state="waiting") == 4
    assert value(text, "cascade_nginx_connections_accepted_total") == 120
    assert value(text, "cascade_nginx_http_requests_total") == 940
    assert value(text, "cascade_rtmp_publishers") == 1
    assert value(text, "cascade_rtmp_stream_clients", stream="st-0123456789abcdef") == 1
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_pages_that_are_not_nginxs_are_not_read_as_numbers():
    assert parse_stub_status("<html>502 Bad Gateway</html>") is None
    assert rtmp_metrics(b"<html>not the stat page</html>") is None
    assert rtmp_metrics(b"not xml") is None
    assert parse_stub_status(STUB_STATUS.decode()) == {"active": 7, "accepted": 120, "handled": 118,
                                                       "requests": 940, "reading": 1, "writing": 2, "waiting": 4}


def test_chat_messages_and_open_sockets(app, client):
    make_user("streamer")
    before = scrape(client)
    sender, reader = ChatClient(app, "streamer"), ChatClient(app)
    assert sender.join("streamer")["ok"] and reader.join("streamer")["ok"]
    assert sender.send("streamer", "hello metrics")["ok"]
    during = scrape(client)
    assert (value(during, "cascade_chat_messages_total", state="visible")
            - value(before, "cascade_chat_messages_total", state="visible")) == 1
    assert (value(during, "cascade_socketio_connections", namespace="/chat")
            - value(before, "cascade_socketio_connections", namespace="/chat")) == 2
    assert (value(during, "cascade_socketio_connects_total", namespace="/chat")
            - value(before, "cascade_socketio_connects_total", namespace="/chat")) == 2
    for chat in (sender, reader):
        chat.sio.disconnect("/chat")
    after = scrape(client)
    assert value(after, "cascade_socketio_connections", namespace="/chat") == value(
        before, "cascade_socketio_connections", namespace="/chat")


def test_deliveries_count_each_local_socket_an_event_reaches():
    manager = DeliveryCountingManager(TEST_REDIS_URL, "cascade-metrics-test")
    socketio.Server(client_manager=manager)
    sids = [manager.connect(f"eio-{n}", "/chat") for n in range(3)]
    for sid in sids[:2]:
        manager.enter_room(sid, "/chat", "channel-1")
    text_before = _deliveries()
    manager._handle_emit({"event": "message", "data": [{"id": 1}], "namespace": "/chat", "room": "channel-1"})
    manager._handle_emit({"event": "delete", "data": [{"id": 1}], "namespace": "/chat", "room": "channel-1",
                          "skip_sid": sids[0]})
    manager._handle_emit({"event": "message", "data": [{"id": 2}], "namespace": "/dashboard", "room": "channel-1"})
    assert _deliveries()["message"] - text_before["message"] == 2
    assert _deliveries()["delete"] - text_before["delete"] == 1


def _deliveries() -> dict[str, float]:
    return {event: _instrument("cascade_chat_deliveries_total", event=event) for event in ("message", "delete")}


def _instrument(name: str, **labels: str) -> float:
    from app.metrics.registry import INSTRUMENTS

    return INSTRUMENTS.get_sample_value(name, labels) or 0.0


def test_held_playlist_reloads_are_timed_by_outcome(tmp_path):
    from app.hls import services
    from tests.hls.playlists import live_playlist

    name = "st-0123456789abcdef"
    rung = tmp_path / name / "720p"
    rung.mkdir(parents=True)
    (rung / "index.m3u8").write_text(live_playlist(segments=3, parts=1))
    listener = services.PartListener(TEST_REDIS_URL)

    def packaged() -> None:  # the next part, and the packager's announcement of it
        (rung / "index.m3u8").write_text(live_playlist(segments=3, parts=2))
        listener.announce(name, "720p")

    def held(outcome: str) -> float:
        return _instrument("cascade_hls_hold_seconds_count", kind="playlist", outcome=outcome)

    before = {outcome: held(outcome) for outcome in ("ready", "delivered", "timeout")}
    answer = services.answer_playlist(tmp_path, name, "720p", services.Directives(3, 0, False), listener)
    assert answer.status == 200 and held("ready") == before["ready"] + 1

    timer = threading.Timer(0.2, packaged)
    timer.start()
    answer = services.answer_playlist(tmp_path, name, "720p", services.Directives(3, 1, False), listener)
    timer.join()
    assert answer.status == 200 and held("delivered") == before["delivered"] + 1
    assert _instrument("cascade_hls_hold_seconds_sum", kind="playlist", outcome="delivered") >= 0.15

    ticks = iter(range(0, 1000, 10))  # each look at the clock: 10 s later
    answer = services.answer_playlist(tmp_path, name, "720p", services.Directives(4, 0, False), listener,
                                      clock=lambda: float(next(ticks)))
    assert answer.status == 503 and held("timeout") == before["timeout"] + 1
    listener.stop()


def test_storage_errors_are_counted():
    from app.hls import services

    class Failing:
        def get_bytes(self, key: str) -> bytes:
            raise ConnectionError("the store is away")

    errors = _instrument("cascade_storage_errors_total", operation="hls_read")
    with pytest.raises(services.StorageUnavailable):
        services.StoredFiles(lambda: Failing()).playlist("st-0123456789abcdef", "720p")
    assert _instrument("cascade_storage_errors_total", operation="hls_read") == errors + 1
