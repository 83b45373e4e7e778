"""The dashboard's live panel: starting, live (what the stream got, encoder stats from Redis),
reconnecting, and Stop with its cool-down and "Go live again now"."""
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.dashboard.services import LivePanel, duration_words
from app.extensions import db, get_redis
from app.live import hosts
from app.live.state import LiveKeys
from app.models import Channel, StreamSession, utcnow
from app.streams import services as streams
from tests.conftest import page_text
from tests.factories import beat, make_live, make_user
from workers.live.stats import encoder_stats

HX = {"HX-Request": "true"}

# Stop asks the ingest server's control API to drop the publisher: here a stand-in answers.
pytestmark = pytest.mark.usefixtures("ingest_control")

LADDER = [
    {"name": "1080p60", "width": 1920, "height": 1080, "fps": 60, "video_kbps": 6000},
    {"name": "720p", "width": 1280, "height": 720, "fps": 30, "video_kbps": 3000},
    {"name": "480p", "width": 854, "height": 480, "fps": 30, "video_kbps": 1400},
]
PASSTHROUGH = [{"name": "source", "width": 1920, "height": 1080, "fps": 30, "video_kbps": None,
                "passthrough": True}]


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


# The panel fetches itself when the stream changes (pushed, js/dashboard.js); its figures refresh
# every 3 s while a session is open; offline, a slow poll is only the fallback for a lost push.
REFRESH_LIVE = 'hx-trigger="cascade:stream-changed, every 3s"'
REFRESH_IDLE = 'hx-trigger="cascade:stream-changed, every 30s"'


def rung_row(name: str, resolution: str, fps: str, target: str | None, kbps: str, note: str = "") -> str:
    """A row of the ladder table as the panel renders it (without the Target cell when no rung has one)."""
    cells = f'<td class="muted">{resolution}</td><td class="muted">{fps}</td>'
    if target is not None:
        cells += f'<td class="muted ladder-target">{target}</td>'
    return f'<tr data-rung="{name}"><th scope="row">{name}{note}</th>{cells}<td>{kbps}</td></tr>'


def write_stats(app, session, **stats):
    get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps(stats), ex=30)


def go_live(user) -> StreamSession:
    """What the publish hook does: the channel has a publisher, no live host has it yet."""
    key = streams.rotate_stream_key(user.channel)
    return streams.go_live(key, ingest="nginx", client_id="1")


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def panel(client) -> str:
    response = client.get("/dashboard/live", headers=HX)
    assert response.status_code == 200
    return page_text(response)


# --- offline, page and fragment -------------------------------------------------------------

def test_offline_panel_in_page_and_as_fragment(client, alice):
    page = client.get("/dashboard/live").get_data(as_text=True)
    assert "<html" in page and 'id="live-status"' in page and "Offline" in page
    fragment = client.get("/dashboard/live", headers=HX)
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="live-status"')
    assert "<html" not in html and "Stop stream" not in html and "Go live again now" not in html
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert REFRESH_IDLE in html


def test_dashboard_page_includes_the_live_panel(client, alice):
    make_live(alice)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="live-status"' in html and "Stop stream" in html


# --- starting: a publisher is connected, viewers cannot play it yet -------------------------

def test_starting_until_the_stream_is_playable(client, alice):
    session = go_live(alice)
    assert fresh(Channel, alice.channel.id).is_live is False
    html = panel(client)
    assert "Starting…" in html and "your stream will be shown to viewers as soon as it can be played" in html
    assert 'status-starting">Starting</span>' in html
    assert REFRESH_LIVE in html and "Stop stream" in html
    assert "No live host" not in html  # a host normally takes it within a second or two

    assert streams.claim_session(session.id, host="host-a", token=1, mode="ladder",
                                 reason="Full quality ladder: 1080p60, 720p, 480p.", renditions=LADDER)
    html = panel(client)
    assert "Starting…" in html and "Full quality ladder" in html

    assert streams.mark_playable(session.id, 1)
    html = panel(client)
    assert "Starting…" not in html and 'status-live">Live</span>' in html
    assert "Full quality ladder" in html


def test_no_live_host_running_after_a_few_seconds(app, client, alice):
    session = go_live(alice)
    session.started_at = utcnow() - timedelta(seconds=11)
    db.session.commit()
    html = panel(client)
    assert "Starting…" in html
    assert "No live host has taken your stream yet." in html
    assert "No live host is running right now" in html
    assert "The site's operator needs to start a live host" in html


def test_live_hosts_running_but_none_has_taken_it(app, client, alice):
    session = go_live(alice)
    session.started_at = utcnow() - timedelta(seconds=11)
    db.session.commit()
    hosts.publish(get_redis(), LiveKeys(app.config), hosts.HostInfo(
        id="host-a", hostname="box", pid=1, cpu_count=4, capacity_cores=3.4, hw_sessions=0,
        encoder="libx264", reserved_cores=3.4))
    html = panel(client)
    assert "No live host has taken your stream yet." in html
    assert "The running live hosts have no capacity for it right now." in html

    streams.claim_session(session.id, host="host-a", token=1, mode="passthrough",
                          reason="The server's encoders are busy.", renditions=PASSTHROUGH)
    html = panel(client)
    assert "No live host" not in html and "Source passthrough" in html


# --- live: what the stream got --------------------------------------------------------------

@pytest.mark.parametrize("mode, label, renditions, reason", [
    ("ladder", "Full quality ladder", LADDER, "Full quality ladder: 1080p60, 720p, 480p."),
    ("reduced", "Smaller ladder", LADDER[1:], "The server is busy, so your stream gets a smaller ladder: 720p, 480p."),
    ("passthrough", "Source passthrough", PASSTHROUGH,
     "The server's encoders are busy with other streams, so viewers get your stream exactly as you send it."),
])
def test_live_panel_says_what_the_stream_got(client, alice, mode, label, renditions, reason):
    session = go_live(alice)
    streams.claim_session(session.id, host="host-a", token=3, mode=mode, reason=reason, renditions=renditions)
    streams.mark_playable(session.id, 3)
    html = panel(client)
    assert f"Viewers get: <strong>{label}</strong>" in html and reason in html
    assert "Qualities viewers can pick" in html
    for rendition in renditions:
        assert f'<tr data-rung="{rendition["name"]}"><th scope="row">{rendition["name"]}' in html
    if mode == "passthrough":
        assert rung_row("source", "1920×1080", "30 fps", None, "—",
                        note=' <span class="muted">(as you send it)</span>') in html
    else:
        assert rung_row("720p", "1280×720", "30 fps", "3,000 kbps", "—") in html
    assert ("1080p60" in html) is (mode == "ladder")


def test_the_encoders_report_fills_in_the_measured_bitrates(app, client, alice):
    session = go_live(alice)
    streams.claim_session(session.id, host="host-a", token=1, mode="ladder", reason="", renditions=LADDER)
    streams.mark_playable(session.id, 1)
    write_stats(app, session, state="running", mode="ladder", encoder="libx264", preset="veryfast",
                ladder=[{"name": "1080p60", "target_kbps": 6000, "kbps": 5800.2},
                        {"name": "720p", "target_kbps": 3000, "kbps": 2950}],
                input={"fps": 60, "kbps": 9000, "width": 1920, "height": 1080}, speed=1.0)
    html = panel(client)
    # The report is the fresher: a rung the host has dropped since the claim is not offered.
    assert rung_row("1080p60", "1920×1080", "60 fps", "6,000 kbps", "5,800 kbps") in html
    assert rung_row("720p", "1280×720", "30 fps", "3,000 kbps", "2,950 kbps") in html
    assert 'data-rung="480p"' not in html
    # What the publisher sends, beside what viewers get.
    assert '<dt>Input frame rate</dt><dd data-stat="input-fps">60 fps</dd>' in html
    assert '<dt>Input bitrate</dt><dd data-stat="input-kbps">9,000 kbps</dd>' in html
    assert "<dt>You send</dt><dd>1920×1080</dd>" in html


def test_live_panel_shows_encoder_stats_and_polls(app, client, alice):
    session = make_live(alice)
    write_stats(app, session, fps=48.07, speed=0.82, input={"fps": 29.97, "kbps": 4500.4},
                ladder=[{"name": "720p", "kbps": 3500}, {"name": "480p", "kbps": 2000},
                        {"name": "360p", "kbps": 1200}],
                drop_frames=42, dup_frames=3,
                frames_recent={"seconds": 10, "frames": 300, "dropped": 0, "duplicated": 0},
                preset="superfast", encoder="libx264", restarts=1,
                note="Encoding ran at 0.71× for 20 s, so we dropped 1080p and switched to superfast.")
    html = panel(client)
    assert REFRESH_LIVE in html
    assert "Live" in html and "29.97 fps" in html and "0.82×" in html and "4,500 kbps" in html
    # ffmpeg's own fps= (frames per wall second since its start) is never shown as a frame rate,
    # nor are its counters since the start: none dropped or repeated over the last 10 s.
    assert "48 fps" not in html and "48.07" not in html and ">42<" not in html
    assert "Dropped" not in html and "repeats" not in html
    for rung, kbps in [("720p", "3,500"), ("480p", "2,000"), ("360p", "1,200")]:
        assert rung_row(rung, "—", "—", None, f"{kbps} kbps") in html
    assert "libx264" in html and "superfast" in html and "restarted 1 time" in html
    assert "we dropped 1080p and switched to superfast" in html


@pytest.mark.parametrize("recent, dropping, repeating", [
    ({"seconds": 10, "frames": 300, "dropped": 2, "duplicated": 1}, False, False),  # under 1 %: rounding
    ({"seconds": 10, "frames": 300, "dropped": 30, "duplicated": 0}, True, False),
    ({"seconds": 10, "frames": 300, "dropped": 0, "duplicated": 45}, False, True),
])
def test_dropped_and_repeated_frames_show_only_while_they_are_a_problem(app, client, alice, recent,
                                                                        dropping, repeating):
    session = make_live(alice)
    write_stats(app, session, state="running", input={"fps": 30}, speed=1.0, frames_recent=recent,
                drop_frames=5000, dup_frames=4000)
    html = panel(client)
    assert ("The encoder dropped 10 % of your frames</strong> in the last 10 s" in html) is dropping
    assert ("15 % of the frames in the last 10 s were repeats" in html) is repeating


def test_stats_are_read_from_the_live_runtimes_key_only(app, client, alice):
    session = make_live(alice)
    get_redis().set(f"cascade:stream:{session.id}:stats", json.dumps({"fps": 30, "encoder": "old"}), ex=30)
    html = panel(client)
    assert "Waiting for the encoder's first report" in html and "old" not in html
    write_stats(app, session, fps=30, encoder="libx264")
    assert "Encoder libx264" in panel(client)


def test_stats_keys_of_another_site_sharing_redis_are_not_read(app, client, alice):
    session = make_live(alice)
    other_site = LiveKeys({**app.config, "RQ_QUEUE": "another-site"})
    get_redis().set(other_site.stats(session.id), json.dumps({"encoder": "theirs"}), ex=30)
    assert "theirs" not in panel(client)


def test_odd_or_missing_stats_never_break_the_panel(app, client, alice):
    session = make_live(alice)
    session.renditions = [7, None, {"name": {"bad": 1}}, {"height": 360, "width": "wide", "fps": "nan"}, "240p"]
    db.session.commit()
    html = panel(client)
    assert "Waiting for the encoder" in html
    assert '<th scope="row">360p</th>' in html and '<th scope="row">240p</th>' in html
    write_stats(app, session, input={"fps": "n/a", "kbps": -5, "width": "wide"}, speed=None,
                ladder=[{"height": 480, "kbps": "2000"}, None, {"name": {"bad": 1}}, 7],
                frames_recent={"frames": "many", "dropped": float("nan")}, note={"no": "dict"},
                mode=["not", "a", "mode"])
    html = panel(client)
    assert rung_row("480p", "—", "—", None, "2,000 kbps") in html
    assert '<dd data-stat="input-fps">—</dd>' in html and '<dd data-stat="input-kbps">—</dd>' in html
    get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps({"input": [1], "frames_recent": "x"}), ex=30)
    assert client.get("/dashboard/live", headers=HX).status_code == 200
    get_redis().set(LiveKeys(app.config).stats(session.id), b"{not json", ex=30)
    assert client.get("/dashboard/live", headers=HX).status_code == 200


def test_viewer_count_in_panel(client, alice):
    make_live(alice)
    slug = alice.channel.slug
    for viewer in ("viewer-aaaa1111", "viewer-bbbb2222"):
        client.post(f"/api/v1/channels/{slug}/watch", json=beat(alice.channel, viewer))
    html = panel(client)
    assert "<dt>Viewers</dt><dd>2</dd>" in html


def test_reconnecting_state(client, alice):
    session = make_live(alice)
    streams.publisher_left(db.session.get(StreamSession, session.id))
    html = panel(client)
    assert "Reconnecting" in html and "Reconnect within 30 s" in html
    assert REFRESH_LIVE in html


# --- Stop means stopped ---------------------------------------------------------------------

def test_stop_confirm_says_what_stop_does(app, client, alice):
    make_live(alice)
    html = panel(client)
    assert ("Your encoder is disconnected and new connections from it are refused for 5 minutes, "
            "so OBS's automatic reconnect won't put you back on air.") in html
    app.config["STOP_COOLDOWN_SECONDS"] = 60
    assert "refused for 1 minute," in panel(client)
    app.config["STOP_COOLDOWN_SECONDS"] = 0
    html = panel(client)
    assert "refused for" not in html and "If OBS reconnects by itself, you are live again." in html


def test_stop_ends_the_session_and_rerenders_stopped(actions, client, alice, ingest_control):
    session = make_live(alice)
    before = utcnow()
    response = actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="live-status"')
    assert "Your stream has stopped." in html and 'status-stopped">Stopped</span>' in html
    assert "Stopped — publishing is refused until" in html and "Go live again now" in html
    assert "Stop stream" not in html and REFRESH_IDLE in html
    channel = fresh(Channel, alice.channel.id)
    until = channel.publish_blocked_until
    assert timedelta(seconds=295) < until - before <= timedelta(seconds=310)  # the request itself may take a while
    shown = (until + timedelta(seconds=59, microseconds=999999)).strftime("%H:%M")  # rounded up
    assert f'<time datetime="{until.isoformat()}">{shown} UTC</time>' in html
    assert "in about 5 minutes" in html
    assert fresh(StreamSession, session.id).status == "ended" and channel.is_live is False
    assert ingest_control == [f"/control/drop/publisher?app=live&name={session.internal_name}"]
    assert client.get(f"/api/v1/channels/{alice.channel.slug}").get_json()["live"] is False


def test_stop_without_htmx_redirects_to_the_stopped_dashboard(actions, client, alice):
    session = make_live(alice)
    response = actions.post("/dashboard/live/stop", token_from="/dashboard")
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard")
    assert fresh(StreamSession, session.id).status == "ended"
    html = page_text(client.get("/dashboard"))
    assert "<html" in html and "Stopped — publishing is refused until" in html and "Go live again now" in html


def test_stop_with_nothing_live(actions, alice, ingest_control):
    response = actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    assert response.status_code == 200
    assert "Nothing is live right now" in page_text(response)
    assert ingest_control == []


def test_stop_needs_csrf(client, alice):
    session = make_live(alice)
    response = client.post("/dashboard/live/stop", headers=HX)
    assert response.status_code == 400
    assert fresh(StreamSession, session.id).status == "live"
    assert fresh(Channel, alice.channel.id).publish_blocked_until is None


def test_the_stopped_notice_ends_with_the_cool_down(client, alice):
    streams.drop_publisher(alice.channel)
    assert "Stopped — publishing is refused" in panel(client)
    channel = fresh(Channel, alice.channel.id)
    channel.publish_blocked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    html = panel(client)
    assert "Offline" in html and "Stopped" not in html and "Go live again now" not in html


def test_go_live_again_now_as_fragment(actions, client, alice):
    make_live(alice)
    actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    response = actions.post("/dashboard/live/go-live-again", token_from="/dashboard", headers=HX)
    html = page_text(response)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    assert html.lstrip().startswith('<section id="live-status"') and "<html" not in html
    assert "Publishing is open again: start streaming in OBS." in html
    assert "Offline" in html and "Stopped —" not in html and "Go live again now" not in html
    assert fresh(Channel, alice.channel.id).publish_blocked_until is None
    assert streams.stop_cooldown_left(fresh(Channel, alice.channel.id)) is None


def test_go_live_again_now_without_htmx_redirects(actions, client, alice):
    streams.drop_publisher(alice.channel)
    response = actions.post("/dashboard/live/go-live-again", token_from="/dashboard")
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard")
    assert fresh(Channel, alice.channel.id).publish_blocked_until is None
    html = page_text(client.get("/dashboard"))
    assert "<html" in html and "Stopped —" not in html


def test_go_live_again_when_nothing_was_stopped(actions, alice):
    response = actions.post("/dashboard/live/go-live-again", token_from="/dashboard", headers=HX)
    assert "Publishing isn't blocked" in page_text(response)


def test_go_live_again_needs_csrf(client, alice):
    streams.drop_publisher(alice.channel)
    response = client.post("/dashboard/live/go-live-again", headers=HX)
    assert response.status_code == 400
    assert streams.stop_cooldown_left(fresh(Channel, alice.channel.id)) is not None


# --- access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("get", "/dashboard/live"), ("post", "/dashboard/live/stop"),
                                          ("post", "/dashboard/live/go-live-again")])
def test_anonymous_is_sent_to_login(actions, client, method, path):
    owner = make_user("alice")
    session = make_live(owner)
    until = owner.channel.publish_blocked_until = utcnow() + timedelta(minutes=5)
    db.session.commit()
    token = actions.csrf("/login")  # a real token, so login_required (not CSRF) answers the POST
    response = client.get(path) if method == "get" else client.post(path, data={"csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert fresh(StreamSession, session.id).status == "live"
    assert fresh(Channel, owner.channel.id).publish_blocked_until == until


@pytest.mark.parametrize("admin", [False, True], ids=["another user", "an admin"])
def test_others_cannot_stop_your_stream(actions, client, admin):
    alice = make_user("alice")
    make_user("bob", admin=admin)
    session = make_live(alice)
    actions.login("bob")
    response = actions.post("/dashboard/live/stop", token_from="/dashboard", headers=HX)
    assert "Nothing is live right now" in page_text(response)  # Stop only ever acts on your own channel
    assert fresh(StreamSession, session.id).status == "live"
    assert fresh(Channel, alice.channel.id).publish_blocked_until is None
    assert "Stop stream" not in panel(client)


@pytest.mark.parametrize("admin", [False, True], ids=["another user", "an admin"])
def test_others_cannot_lift_your_stop(actions, client, admin):
    alice = make_user("alice")
    make_user("bob", admin=admin)
    streams.drop_publisher(alice.channel)
    actions.login("bob")
    response = actions.post("/dashboard/live/go-live-again", token_from="/dashboard", headers=HX)
    assert "Publishing isn't blocked" in page_text(response)  # bob's own channel, never alice's
    assert streams.stop_cooldown_left(fresh(Channel, alice.channel.id)) is not None
    assert "Go live again now" not in panel(client)


def test_the_live_runtimes_own_report(app, client, alice):
    """What a live host writes (workers.live.stats.encoder_stats itself), as the panel shows it."""
    session = make_live(alice)
    report = encoder_stats(
        session_id=session.id, name=session.internal_name, state="running", mode="ladder",
        encoder="libx264", preset="veryfast",
        rungs=[{"name": "720p", "width": 1280, "height": 720, "fps": 30, "target_kbps": 3500, "kbps": 3320.4},
               {"name": "480p", "width": 854, "height": 480, "fps": 30, "target_kbps": 2000, "kbps": None}],
        # ffmpeg's progress 5 s into a run that began with the relay's kept GOP: fps=48.
        progress={"fps": "48.07", "speed": "2.45x", "rate": "1.02", "frame": "98", "out_time_us": "3266000",
                  "drop_frames": "0", "dup_frames": "0"},
        source_fps=30.0, source_size=(1280, 720), input_figures={"fps": 30.0, "kbps": 2210, "video_kbps": 2080},
        restarts=0, step=0, note="", ffmpeg_pid=1234, host="host-a", cpu=1.2, transcoding=True)
    report["frames_recent"] = {"seconds": 10.0, "frames": 300, "dropped": 0.0, "duplicated": 0.0}
    get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps(report), ex=30)
    html = panel(client)
    assert rung_row("720p", "1280×720", "30 fps", "3,500 kbps", "3,320 kbps") in html
    assert rung_row("480p", "854×480", "30 fps", "2,000 kbps", "—") in html
    assert '<dd data-stat="input-fps">30 fps</dd>' in html and "48 fps" not in html and "48.07" not in html
    assert '<dd data-stat="input-kbps">2,210 kbps</dd>' in html and "<dd>1280×720</dd>" in html
    assert "1.02×" in html and "veryfast" in html and "We adjusted" not in html
    assert "repeats" not in html and "dropped" not in html.lower().replace("we dropped", "")
    assert "Viewers get: <strong>Full quality ladder</strong>" in html  # the session has no mode yet: the report's


# --- words and times the panel shows --------------------------------------------------------

@pytest.mark.parametrize("until, shown", [((17, 5, 0, 0), "17:05"), ((17, 5, 0, 1), "17:06"),
                                          ((23, 59, 30, 0), "00:00")])
def test_the_end_of_the_cool_down_is_shown_rounded_up(until, shown):
    hour, minute, second, micro = until
    stopped = LivePanel("stopped", None, 0, None,
                        stopped_until=datetime(2026, 12, 5, hour, minute, second, micro, tzinfo=UTC))
    assert stopped.stopped_until_shown == shown


@pytest.mark.parametrize("seconds, words", [(0, "0 seconds"), (1, "1 second"), (45, "45 seconds"),
                                            (60, "1 minute"), (61, "2 minutes"), (300, "5 minutes")])
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words
