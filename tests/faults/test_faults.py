"""Faults injected into the box while a creator is live, as an operator meets them: each recovers
with no manual step, and costs the viewers and the recording at most what is asserted (each prints
`fault=... viewing_gap_s=... recording_lost_s=...`). Run with `-m faults -s` to see the figures."""
from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .conftest import fault

pytestmark = pytest.mark.faults


def session_stats(site, status) -> dict:
    from app.extensions import get_redis
    from app.live.state import LiveKeys
    from app.models import StreamSession

    with site.app_context():
        from app.extensions import db

        internal = status["hls_url"].split("/")[2]
        session_id = db.session.query(StreamSession.id).filter_by(internal_name=internal).scalar()
        raw = get_redis().get(LiveKeys(site.config).stats(session_id))
        return json.loads(raw) if raw else {}


def encoder_pid(site, status) -> int:
    return wait_for(lambda: session_stats(site, status).get("ffmpeg_pid"), 20, "the encoder's pid")


def test_the_encoder_killed(box, site, live):
    status = live[0]
    with fault(box, live, "encoder ffmpeg kill -9", max_gap=6, max_lost=1.0):
        os.kill(encoder_pid(site, status), signal.SIGKILL)


def test_the_rq_worker_killed(box, live):
    with fault(box, live, "RQ worker kill -9", max_gap=2.5, max_lost=1.0):
        before = box.pid("worker")
        os.kill(before, signal.SIGKILL)
        wait_for(lambda: box.pid("worker") != before, 20, "supervisord to start the worker again")


def test_gunicorns_master_killed(box, live):
    viewer = live[2]
    errors = len(viewer.errors)
    with fault(box, live, "gunicorn master kill -9", max_gap=2.5, max_lost=1.0):
        before = box.pid("web")
        os.kill(before, signal.SIGKILL)
        wait_for(lambda: box.get("/healthz")[0] == 200 and box.pid("web") != before, 30,
                 "the web app to answer again")
    # The app holds media playlists; while none answers, nginx gives a plain request the file.
    assert viewer.errors[errors:] == [], "plain playlist requests failed while the app was away"


def test_the_live_host_killed(box, live):
    """Its encoder dies with it, its relay does not: supervisord starts the host again, the new
    process takes the session back at once (its predecessor's leases are released, not waited
    out), adopts the relay and encodes from its spool where the dead host's output ended."""
    with fault(box, live, "live host kill -9", max_gap=6, max_lost=1.0):
        before = box.pid("live")
        os.kill(before, signal.SIGKILL)
        wait_for(lambda: box.pid("live") != before, 20, "supervisord to start the live host again")


def test_redis_away_for_20_s(box, live):
    """The stream plays on while Redis is away (the box's only live host keeps its session), and
    everything comes back by itself when it returns."""
    with fault(box, live, "Redis down 20 s", max_gap=2.5, max_lost=1.0):
        assert "redis: stopped" in box.ctl("stop", "redis")
        away = time.monotonic()
        while time.monotonic() - away < 20:
            assert box.get("/healthz")[0] == 503
            time.sleep(1)
        assert "redis: started" in box.ctl("start", "redis")


def test_nginx_reloaded_then_the_encoder_killed(box, site, live):
    """After a reload the publisher stays on the old nginx worker; a new pull would reach only the
    new one. The encoder's restart keeps its pull, so the stream carries on."""
    status = live[0]
    with fault(box, live, "nginx SIGHUP, then encoder kill -9", max_gap=6, max_lost=1.0):
        os.kill(int((box.var / "nginx" / "nginx.pid").read_text()), signal.SIGHUP)
        time.sleep(3)
        os.kill(encoder_pid(site, status), signal.SIGKILL)


def test_nginx_reloaded_then_the_live_host_killed(box, live):
    """A new pull would reach only the new nginx worker, while the publisher stays on the one the
    reload left draining. The restarted host adopts the dead host's relay instead, which still
    pulls from that worker: the stream carries on, and the publisher is never dropped."""
    status, publisher, _, _ = live
    reconnects = publisher.reconnects
    with fault(box, live, "nginx SIGHUP, then live host kill -9", max_gap=6, max_lost=1.0):
        os.kill(int((box.var / "nginx" / "nginx.pid").read_text()), signal.SIGHUP)
        time.sleep(3)
        before = box.pid("live")
        os.kill(before, signal.SIGKILL)
        wait_for(lambda: box.pid("live") != before, 20, "supervisord to start the live host again")
    assert publisher.reconnects == reconnects


def test_nginx_killed_leaves_no_ghost_session(box, live):
    """nginx dies with the publisher on it: no publish_done reaches the app. supervisord starts
    nginx again, OBS reconnects, and the session that still looks live does not refuse it."""
    status, publisher, _, _ = live
    reconnects = publisher.reconnects
    with fault(box, live, "nginx kill -9", max_gap=15, max_lost=12.0):
        master = int((box.var / "nginx" / "nginx.pid").read_text())
        os.killpg(os.getpgid(master), signal.SIGKILL)
        wait_for(lambda: publisher.reconnects > reconnects, 30, "the publisher to reconnect")
    assert "already has a publisher" not in box.log_text(20000) or box.api("faulty")["live"]


def test_nginx_stopped_gracefully(box, live):
    """SIGQUIT: nginx closes its listeners at once and would keep running until its last publisher
    left (the whole broadcast, with the site refusing connections). Its next on_update cannot
    reach the hook server it closed, which drops the publisher; nginx exits, supervisord starts it
    again, OBS reconnects and the session that still looked live resumes."""
    status, publisher, _, _ = live
    reconnects = publisher.reconnects
    with fault(box, live, "nginx SIGQUIT", max_gap=25, max_lost=20.0):
        master = int((box.var / "nginx" / "nginx.pid").read_text())
        os.kill(master, signal.SIGQUIT)
        wait_for(lambda: box.get("/healthz")[0] == 200 and box.pid("ingest") != master, 40,
                 "the site to answer again", lambda: box.log_text())
        wait_for(lambda: publisher.reconnects > reconnects, 30, "the publisher to reconnect")


def test_form_posts_through_nginx_never_get_a_502(box):
    """nginx reuses idle connections to gunicorn; gunicorn closing one just as nginx sends a POST
    on it was a 502 (nginx retries only idempotent requests). 300 POSTs at 2 s and at random
    1.5-3 s intervals, from 20 browsers at once so the idle times spread over the pool."""
    results: list[int] = []

    def browser(fixed: bool) -> None:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                             NoRedirect())
        page = opener.open(box.base_url + "/", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        for _ in range(15):
            time.sleep(2.0 if fixed else random.uniform(1.5, 3.0))
            body = urllib.parse.urlencode({"csrf_token": token, "theme": "dark"}).encode()
            try:
                results.append(opener.open(box.base_url + "/theme", data=body, timeout=10).status)
            except urllib.error.HTTPError as error:
                results.append(error.code)

    threads = [threading.Thread(target=browser, args=(index % 2 == 0,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 300
    assert all(code == 303 for code in results), {code: results.count(code) for code in set(results)}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None



def test_the_recording_of_the_whole_broadcast_stays_in_sync(box, site, live):
    """Last: the creator stops. The VOD of a broadcast that lived through every fault above is
    built, and its MP4 keeps audio and video together across all the restarts (each run's video
    in the same timescale: the concat demuxer does not rescale)."""
    import subprocess

    from app.extensions import db
    from app.models import VOD, Channel
    from app.streams import services as streams

    status, publisher, viewer, chat = live
    chat.stop()
    viewer.stop()
    publisher.stop()
    with site.app_context():
        streams.drop_publisher(db.session.query(Channel).filter_by(slug="faulty").one())

    def built():
        with site.app_context():
            db.session.rollback()
            vod = db.session.query(VOD).filter(VOD.download_key.isnot(None)).first()
            return vod and (vod.download_key, vod.duration_seconds)

    key, duration = wait_for(built, 180, "the VOD to be built", lambda: box.log_text())
    mp4 = Path(box.env["MEDIA_ROOT"]) / "objects" / key
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration",
                            "-of", "json", str(mp4)], capture_output=True, text=True, timeout=60)
    streams_found = {s["codec_type"]: float(s["duration"]) for s in json.loads(probe.stdout)["streams"]}
    print(f"vod duration {duration:.1f} s; mp4 video {streams_found['video']:.1f} s, "
          f"audio {streams_found['audio']:.1f} s")
    assert abs(streams_found["video"] - streams_found["audio"]) < 1.0, streams_found
    assert abs(streams_found["video"] - duration) < 2.0, (streams_found, duration)
