"""transcode_session for real: a 720p publisher into nginx-rtmp (no hooks), the job pulling it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

from app.dashboard.services import parse_stats
from app.extensions import db, get_redis
from app.jobs import enqueue
from app.media.mirror import playlist_media
from app.media.playlist import parse_media_playlist
from app.media.storage import get_storage
from app.models import Channel, StreamSession
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.e2e.conftest import ROOT, free_ports, require_tool, start, stop
from tests.factories import make_live, make_user
from tests.media.llhls_rules import PlaylistHistory, PlaylistWatcher, check_playlist
from tests.media.test_ffmpeg_args import decoded_size
from workers import context, transcode

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# Session ids start at 1 in every test database, and other test runs (a stack's own worker,
# another checkout) share Redis database 15 and flush it: a database of our own keeps those
# runs from claiming or wiping this test's `cascade:stream:1:*` keys.
LIVE_REDIS_URL = TEST_REDIS_URL.rsplit("/", 1)[0] + "/14"

RTMP_ONLY = """load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
rtmp {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        application live {{
            live on;
            record off;
        }}
    }}
}}
"""


@pytest.fixture
def rtmp_port(tmp_path):
    """An nginx-rtmp that lets any name publish and play (the hooks are not under test here)."""
    nginx = require_tool("nginx")
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    (port,) = free_ports(1)
    conf = prefix / "nginx.conf"
    conf.write_text(RTMP_ONLY.format(prefix=prefix, port=port))
    process = start([nginx, "-p", str(prefix), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                    tmp_path / "nginx.log", dict(os.environ))
    deadline = time.monotonic() + 10
    while not (prefix / "nginx.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    yield port
    stop(process)


def drop_queue(name: str) -> None:
    """Remove a test queue with its scheduled jobs (the supervision chain) and its registration."""
    queue = Queue(name, connection=get_redis())
    for registry in (ScheduledJobRegistry(queue=queue), FinishedJobRegistry(queue=queue),
                     FailedJobRegistry(queue=queue)):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
            get_redis().delete(f"rq:results:{job_id}")
    queue.delete(delete_jobs=True)
    for key in get_redis().scan_iter("rq:worker:*"):  # the burst worker's record outlives it
        if get_redis().type(key) == b"hash" and get_redis().hget(key, "queues") == name.encode():
            get_redis().delete(key)


def publish(port: int, name: str, log, size: str = "1280x720") -> subprocess.Popen:
    ffmpeg = require_tool("ffmpeg")
    return start([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                  "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-f", "lavfi", "-i",
                  "sine=frequency=440:sample_rate=48000", "-t", "120", "-c:v", "libx264", "-preset",
                  "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac", "-f", "flv",
                  f"rtmp://127.0.0.1:{port}/live/{name}"], log, dict(os.environ))



def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes only once reaped; the job reaps what it starts.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(") ")[1][0] != "Z"


def test_transcode_pulls_encodes_restarts_and_stops(make_app, rtmp_port, tmp_path, monkeypatch):
    """The default, LL-HLS: every playlist written, across an ffmpeg restart, keeps the spec's rules."""
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=queue_name, REDIS_URL=LIVE_REDIS_URL,
                   INGEST_PULL_URL=f"rtmp://127.0.0.1:{rtmp_port}/live/{{name}}",
                   # This test is about the full ladder: no headroom fallback, whatever the load.
                   TRANSCODE_HEADROOM_WARMUP=1000.0, TRANSCODE_PULL_WAIT=60.0)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        session = make_live(make_user("streamer"))
        session.internal_name = f"st-{uuid.uuid4().hex[:16]}"
        db.session.commit()
        session_id, channel_id, name = session.id, session.channel_id, session.internal_name
    redis_keys = [transcode.STATS_KEY.format(session_id), transcode.WORKER_KEY.format(session_id),
                  transcode.REQUEUE_KEY.format(session_id), transcode.SUPERVISOR_KEY.format(queue_name)]

    publisher = publish(rtmp_port, name, tmp_path / "publisher.log")
    outcome = {}
    job = threading.Thread(target=lambda: outcome.setdefault("result", transcode.transcode_session(session_id)))

    def set_status(status):
        with app.app_context():
            db.session.get(StreamSession, session_id).status = status
            db.session.commit()

    def stats():
        with app.app_context():
            raw = get_redis().get(transcode.STATS_KEY.format(session_id))
        return json.loads(raw) if raw else None

    pids = []
    out = tmp_path / "media" / "hls" / name
    watcher = PlaylistWatcher({rung: out / rung / "index.m3u8" for rung in ("720p", "480p", "360p")})
    job.start()
    watcher.__enter__()
    try:
        master = wait_for(lambda: (out / "master.m3u8").exists() and "FRAME-RATE" in
                          (out / "master.m3u8").read_text() and (out / "master.m3u8").read_text(),
                          60, "a complete master playlist")
        variants = [line for line in master.splitlines() if line.endswith(".m3u8")]
        assert variants == ["720p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"]
        assert "1080p" not in master
        for line in (l for l in master.splitlines() if l.startswith("#EXT-X-STREAM-INF")):
            assert all(a in line for a in ("BANDWIDTH=", "RESOLUTION=", "CODECS=", "FRAME-RATE=30.000"))
        for rung, size in (("720p", (1280, 720)), ("480p", (854, 480)), ("360p", (640, 360))):
            wait_for(lambda: list((out / rung).glob("s[0-9]*.m4s")), 20, f"a {rung} segment")
            assert decoded_size(out / rung) == size

        first = wait_for(lambda: (s := stats()) and s.get("speed") and s["ffmpeg_pid"] and s, 20, "stats")
        assert first["encoder"] == "libx264" and first["preset"] == "veryfast"
        assert [r["name"] for r in first["ladder"]] == ["720p", "480p", "360p"] and first["state"] == "running"
        with app.app_context():
            panel = parse_stats(first)  # what the dashboard makes of it
            assert [r.name for r in panel.rungs] == ["720p", "480p", "360p"] and panel.speed
        assert "drop_frames" in first and first["restarts"] == 0
        with app.app_context():
            assert get_redis().ttl(transcode.STATS_KEY.format(session_id)) <= transcode.STATS_TTL
            assert get_redis().get(transcode.WORKER_KEY.format(session_id))
            assert [r["name"] for r in db.session.get(StreamSession, session_id).renditions] == \
                ["720p", "480p", "360p"]
            key = f"thumbnails/{channel_id}/live.jpg"
            wait_for(lambda: get_storage().exists(key), 20, "the live thumbnail")
            assert get_storage().get_bytes(key)[:2] == b"\xff\xd8"
            db.session.rollback()
            assert db.session.get(Channel, channel_id).thumbnail_key == key

        measured = wait_for(lambda: (s := stats()) and all(r["kbps"] for r in s["ladder"]) and s, 15,
                            "measured bitrates per rung")
        assert measured["ladder"][0]["kbps"] > measured["ladder"][2]["kbps"]

        # A second job for the same session backs off: the first one holds the worker key.
        assert transcode.transcode_session(session_id) == "already running"

        # A killed ffmpeg is restarted while the session is live.
        pids.append(first["ffmpeg_pid"])
        os.kill(first["ffmpeg_pid"], signal.SIGKILL)
        second = wait_for(lambda: (s := stats()) and s["restarts"] >= 1 and s["ffmpeg_pid"]
                          and s["ffmpeg_pid"] != first["ffmpeg_pid"] and s, 30, "a restarted ffmpeg")
        pids.append(second["ffmpeg_pid"])
        assert not alive(first["ffmpeg_pid"])
        # The restarted run carries on the numbering after a discontinuity, with its own init.
        carried_on = wait_for(lambda: (p := check_playlist((out / "720p" / "index.m3u8").read_text()))
                              and p.segments[-1].discontinuity == 1 and len(p.segments[-1].parts) > 1 and p,
                              30, "the restarted run's parts")
        assert len({s.init for s in carried_on.segments}) == 2

        # The session ends: the job stops ffmpeg and returns.
        set_status("ended")
        job.join(timeout=30)
        watcher.stop()
        assert not job.is_alive() and outcome["result"] == "ended"
        # Enough versions of every playlist for the rules to mean something (about 3 a second
        # while a run lasts; how long the runs last depends on how busy the machine is).
        assert all(history.count > 12 for history in watcher.histories.values()), \
            {rung: history.count for rung, history in watcher.histories.items()}
        for rung in ("720p", "480p", "360p"):
            assert check_playlist((out / rung / "index.m3u8").read_text()).ended
        assert not any(alive(pid) for pid in pids)
        assert stats() is None
        assert transcode.finish_session(session_id) == "kept"
        manifest = json.loads((out / "recording.json").read_text())
        assert set(manifest["rungs"]) == {"720p", "480p", "360p"}
        assert len(manifest["rungs"]["720p"]["inits"]) == 2  # one per ffmpeg run, none overwritten
        assert manifest["rungs"]["720p"]["playlist"] == "recording.m3u8"
        recording = (out / "720p" / "recording.m3u8").read_text()
        listed = [line for line in recording.splitlines() if line and not line.startswith("#")]
        assert listed == manifest["rungs"]["720p"]["segments"] and recording.count("#EXT-X-DISCONTINUITY") == 1
        assert not list((out / "720p").glob("p*.m4s"))  # the parts go once the session ends
    finally:
        watcher.stop(check=False)
        if job.is_alive():
            set_status("ended")
            job.join(timeout=30)
        stop(publisher)
        with app.app_context():
            get_redis().delete(*redis_keys)
            drop_queue(queue_name)
            for pid in pids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


@contextmanager
def small_broadcast(make_app, rtmp_port, tmp_path, monkeypatch, username: str, latency: str = "low", **config):
    """A 640x360 publisher and its transcode job on a thread; ends the session and cleans up after."""
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=queue_name, REDIS_URL=LIVE_REDIS_URL,
                   INGEST_PULL_URL=f"rtmp://127.0.0.1:{rtmp_port}/live/{{name}}", TRANSCODE_PULL_WAIT=60.0,
                   **config)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        session = make_live(make_user(username))
        session.internal_name = f"st-{uuid.uuid4().hex[:16]}"
        session.channel.latency_mode = latency
        db.session.commit()
        broadcast = SimpleNamespace(app=app, session_id=session.id, out=tmp_path / "media" / "hls" / session.internal_name,
                                    outcome={})
    publisher = publish(rtmp_port, session.internal_name, tmp_path / "publisher.log", size="640x360")
    job = threading.Thread(target=lambda: broadcast.outcome.setdefault(
        "result", transcode.transcode_session(broadcast.session_id)))
    job.start()

    def stats():
        with app.app_context():
            raw = get_redis().get(transcode.STATS_KEY.format(broadcast.session_id))
        return json.loads(raw) if raw else None
    broadcast.stats = stats
    try:
        yield broadcast
    finally:
        with app.app_context():
            db.session.get(StreamSession, broadcast.session_id).status = "ended"
            db.session.commit()
        job.join(timeout=30)
        stop(publisher)
        with app.app_context():
            get_redis().delete(transcode.SUPERVISOR_KEY.format(queue_name),
                               *(key.format(broadcast.session_id) for key in (
                                   transcode.STATS_KEY, transcode.WORKER_KEY, transcode.REQUEUE_KEY)))
            drop_queue(queue_name)
    assert not job.is_alive() and broadcast.outcome["result"] == "ended"


def test_too_slow_an_encode_restarts_lighter_and_says_why(make_app, rtmp_port, tmp_path, monkeypatch):
    # No machine encodes at 100x real time from a live source: every sample is "too slow".
    with small_broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "slowpoke", TRANSCODE_MIN_SPEED=100.0,
                         TRANSCODE_HEADROOM_WARMUP=1.0, TRANSCODE_HEADROOM_WINDOW=3.0) as broadcast:
        seen = []
        lighter = wait_for(lambda: (s := broadcast.stats()) and not seen.append(s) and s["preset"] == "superfast" and s,
                           90, "a restart on a faster preset",
                           lambda: f"(job: {broadcast.outcome or 'running'}; last stats: {seen[-1:]})")
        assert lighter["headroom_step"] == 1 and "real time" in lighter["note"]
        assert "superfast" in lighter["note"] and lighter["restarts"] >= 1
        with broadcast.app.app_context():
            renditions = db.session.get(StreamSession, broadcast.session_id).renditions
            assert renditions[0]["preset"] == "superfast" and renditions[0]["note"] == lighter["note"]


def test_normal_latency_gets_classic_hls_of_one_second_segments(make_app, rtmp_port, tmp_path, monkeypatch):
    with small_broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "classic", latency="normal",
                         TRANSCODE_HEADROOM_WARMUP=1000.0) as broadcast:
        out = broadcast.out
        master = wait_for(lambda: (out / "master.m3u8").exists() and (out / "master.m3u8").read_text(),
                          60, "the master playlist")
        assert [line for line in master.splitlines() if line.endswith(".m3u8")] == ["360p/index.m3u8"]
        playlist = wait_for(lambda: (out / "360p" / "index.m3u8").exists()
                            and (text := (out / "360p" / "index.m3u8").read_text()).count("#EXTINF:") >= 3
                            and text, 30, "three classic segments")
        assert "#EXT-X-PART" not in playlist and "#EXT-X-TARGETDURATION:1" in playlist
        durations = [float(line[8:].split(",")[0]) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
        assert all(abs(d - 1.0) < 0.05 for d in durations), durations
        assert list((out / "360p").glob("seg_*.m4s")) and not list((out / "360p").glob("p*.m4s"))
        with broadcast.app.app_context():
            assert db.session.get(StreamSession, broadcast.session_id).renditions[0]["delivery"] == "hls"


def test_a_real_burst_worker_runs_jobs_by_dotted_name_and_starts_supervision(make_app, sqlite_url, tmp_path):
    """`python -m workers --burst`: the job runs in a forked work horse with the app context."""
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    media = tmp_path / "media"
    app = make_app(MEDIA_ROOT=str(media), RQ_QUEUE=queue_name, REDIS_URL=LIVE_REDIS_URL)
    with app.app_context():
        session = make_live(make_user("burst"))
        session.status = "ended"
        db.session.commit()
        out = transcode.hls_dir(session.internal_name)
        (out / "720p").mkdir(parents=True)
        (out / "720p" / "seg_1.m4s").write_bytes(b"seg")
        enqueue("workers.transcode.finish_session", session.id)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update({"DATABASE_URL": sqlite_url, "REDIS_URL": LIVE_REDIS_URL, "RQ_QUEUE": queue_name,
                "MEDIA_ROOT": str(media), "SECRET_KEY": "x" * 32, "HOOK_SECRET": "y" * 32})
    try:
        result = subprocess.run([sys.executable, "-m", "workers", "--burst", "--wait", "5"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((out / "recording.json").read_text())
        assert manifest["rungs"] == {"720p": {"inits": [], "segments": ["seg_1.m4s"]}}
        with app.app_context():
            assert get_redis().exists(transcode.SUPERVISOR_KEY.format(queue_name))
            queue = Queue(queue_name, connection=get_redis())
            # Other periodic chains (retention) may be scheduled beside it.
            scheduled = [queue.fetch_job(job_id).func_name
                         for job_id in ScheduledJobRegistry(queue=queue).get_job_ids()]
            assert scheduled.count("workers.transcode.supervise_sessions") == 1, scheduled
    finally:
        with app.app_context():
            get_redis().delete(transcode.SUPERVISOR_KEY.format(queue_name))
            drop_queue(queue_name)


def test_with_s3_live_hls_and_the_recording_reach_the_bucket(make_app, rtmp_port, tmp_path, monkeypatch,
                                                            s3_config):
    """STORAGE_BACKEND=s3: parts, segments and playlists are stored as they are written, the app
    answers a blocking reload from the bucket, and once the session ends the bucket holds what
    a VOD job on another host needs (ended playlists, recording lists, recording.json), no parts."""
    with small_broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "bucketeer",
                         TRANSCODE_HEADROOM_WARMUP=1000.0, **s3_config) as broadcast:
        app, out = broadcast.app, broadcast.out
        storage = get_storage(app.config)
        assert storage.name == "s3"
        prefix = f"hls/{out.name}/"

        def stored() -> set[str]:
            return {obj.key[len(prefix):] for obj in storage.list(prefix)}

        keys = wait_for(lambda: (k := stored()) and "master.m3u8" in k and "360p/index.m3u8" in k
                        and "360p/recording.m3u8" in k and any(re.fullmatch(r"360p/s[0-9]+\.m4s", key) for key in k)
                        and any(re.fullmatch(r"360p/p[0-9]+\.[0-9]+\.m4s", key) for key in k) and k,
                        60, "parts, segments and playlists in the bucket")
        assert "360p/init-0.mp4" in keys
        assert storage.get_bytes(prefix + "master.m3u8") == (out / "master.m3u8").read_bytes()

        # A player polling the bucket sees playlists that keep the rules, each naming only
        # stored files.
        history = PlaylistHistory()
        deadline, seen = time.monotonic() + 4, None
        while time.monotonic() < deadline:
            text = storage.get_bytes(prefix + "360p/index.m3u8").decode()
            if text != seen:
                seen = text
                playlist = history.add(text)
                assert not playlist.ended
                missing = [uri for uri in playlist_media(text) if not storage.exists(prefix + "360p/" + uri)]
                assert not missing, f"the stored playlist names {missing}, not stored"
            time.sleep(0.05)
        assert history.count >= 5

        # The app, reading only the bucket, holds a request for the next part and answers it.
        state = parse_media_playlist(storage.get_bytes(prefix + "360p/index.m3u8").decode())
        nxt = (state.last_msn, state.last_part + 1) if state.last_part is not None else (state.last_msn + 1, 0)
        response = app.test_client().get(f"/hls/{out.name}/360p/index.m3u8?_HLS_msn={nxt[0]}&_HLS_part={nxt[1]}")
        assert response.status_code == 200
        assert parse_media_playlist(response.get_data(as_text=True)).has(*nxt)

        with app.app_context():
            db.session.get(StreamSession, broadcast.session_id).status = "ended"
            db.session.commit()
        wait_for(lambda: broadcast.outcome, 30, "the transcode job to end")
        assert transcode.finish_session(broadcast.session_id) == "kept"

        keys = stored()
        assert "recording.json" in keys and "360p/recording.m3u8" in keys
        assert not [key for key in keys if re.fullmatch(r"360p/p[0-9]+\.[0-9]+\.m4s", key)]
        assert check_playlist(storage.get_bytes(prefix + "360p/index.m3u8").decode()).ended
        manifest = json.loads(storage.get_bytes(prefix + "recording.json"))
        assert manifest == json.loads((out / "recording.json").read_text())
        recorded = manifest["rungs"]["360p"]
        assert recorded["playlist"] == "recording.m3u8" and len(recorded["segments"]) >= 5
        assert all(f"360p/{name}" in keys for name in recorded["segments"] + recorded["inits"])
        assert keys == {p.relative_to(out).as_posix() for p in out.rglob("*")
                                         if p.is_file() and not p.name.startswith(".")}


def test_with_s3_classic_hls_follows_ffmpeg_into_the_bucket(make_app, rtmp_port, tmp_path, monkeypatch, s3_config):
    """Normal latency: ffmpeg's own HLS files reach the bucket through the directory sync, each
    playlist after the segments it names; the session's end completes the copy."""
    with small_broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "classicbucket", latency="normal",
                         TRANSCODE_HEADROOM_WARMUP=1000.0, **s3_config) as broadcast:
        app, out = broadcast.app, broadcast.out
        storage = get_storage(app.config)
        prefix = f"hls/{out.name}/"
        text = wait_for(lambda: storage.exists(prefix + "master.m3u8") and storage.exists(prefix + "360p/index.m3u8")
                        and (t := storage.get_bytes(prefix + "360p/index.m3u8").decode()).count("#EXTINF:") >= 3 and t,
                        60, "classic playlists and segments in the bucket")
        assert "FRAME-RATE" in storage.get_bytes(prefix + "master.m3u8").decode()  # the completed master
        assert not storage.exists(prefix + "master.ffmpeg.m3u8")
        for _ in range(3):
            text = storage.get_bytes(prefix + "360p/index.m3u8").decode()
            missing = [uri for uri in playlist_media(text) if not storage.exists(prefix + "360p/" + uri)]
            assert not missing, f"the stored playlist names {missing}, not stored"
            time.sleep(0.7)
        with app.app_context():
            db.session.get(StreamSession, broadcast.session_id).status = "ended"
            db.session.commit()
        wait_for(lambda: broadcast.outcome, 30, "the transcode job to end")
        assert transcode.finish_session(broadcast.session_id) == "kept"
        keys = {obj.key[len(prefix):] for obj in storage.list(prefix)}
        assert "recording.json" in keys and not any(key.endswith(".tmp") for key in keys)
        local = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
        assert keys == local - {"master.ffmpeg.m3u8"} | ({"master.ffmpeg.m3u8"} & keys)
        segments = json.loads(storage.get_bytes(prefix + "recording.json"))["rungs"]["360p"]["segments"]
        assert len(segments) >= 3 and all(f"360p/{name}" in keys for name in segments)
