"""A live host for real, in this process: a publisher into nginx-rtmp (no hooks), the host's
runner pulling it, encoding a ladder or passing the source through, until the session ends."""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from app.dashboard.services import parse_stats
from app.extensions import db, get_redis
from app.live.capacity import CostModel
from app.live.lease import holder
from app.live.state import hls_dir, new_internal_name
from app.media.ladder import PRESETS
from app.media.playlist import parse_media_playlist
from app.models import Channel, StreamSession
from app.storage.backends import get_storage
from app.storage.mirror import playlist_media
from tests.conftest import wait_for
from tests.e2e.conftest import free_ports, require_tool, start, stop
from tests.factories import make_live, make_user
from tests.media.llhls_rules import PlaylistHistory, PlaylistWatcher, check_playlist, parse
from tests.media.test_ffmpeg_args import decoded_size
from workers import context
from workers.live import session as live_session
from workers.live.finish import finish_session
from workers.live.host import LiveHost
from workers.live.session import HeadroomWatch, Outcome
from workers.live.stats import STATS_TTL

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# Admission from fixed figures, whatever this machine is doing: every ladder fits, or nothing does.
ANY_LADDER_FITS = CostModel(encode={preset: 1e-6 for preset in PRESETS}, decode=1e-6)
NOTHING_FITS = CostModel(encode={preset: 1.0 for preset in PRESETS}, decode=1.0)

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
    # A zombie is gone for our purposes only once reaped; the runner reaps what it starts.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(") ")[1][0] != "Z"


def steady_encoder(monkeypatch) -> None:
    """No headroom fallback, however busy the machine: these tests are about what runs."""
    monkeypatch.setattr(live_session, "HeadroomWatch", functools.partial(HeadroomWatch, warmup=1000.0))


@contextmanager
def broadcast(make_app, rtmp_port, tmp_path, monkeypatch, username: str, *, size: str = "640x360",
              latency: str = "low", model: CostModel = ANY_LADDER_FITS, **config):
    """A publisher and a live host serving on a thread; ends the session, and stops the host and
    the publisher, after."""
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
                   INGEST_PULL_URL=f"rtmp://127.0.0.1:{rtmp_port}/live/{{name}}", **config)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        session = make_live(make_user(username))
        session.internal_name = new_internal_name()
        session.channel.latency_mode = latency
        db.session.commit()
        host = LiveHost(app, host_id=f"test-{username}", cores=2, model=model)
        found = SimpleNamespace(app=app, host=host, session_id=session.id, channel_id=session.channel_id,
                                out=hls_dir(app.config, session.internal_name))
    publisher = publish(rtmp_port, session.internal_name, tmp_path / "publisher.log", size=size)

    def serve():
        with app.app_context():
            host.serve()

    serving = threading.Thread(target=serve, name="live-host")
    serving.start()

    def stats():
        with app.app_context():
            raw = get_redis().get(host.keys.stats(found.session_id))
        return json.loads(raw) if raw else None

    def set_status(status: str) -> None:
        with app.app_context():
            db.session.get(StreamSession, found.session_id).status = status
            db.session.commit()

    def end() -> None:
        """End the session and wait for its runner to close the playlists and let it go."""
        set_status("ended")
        found.runner.join(timeout=30)
        assert not found.runner.is_alive()

    found.stats, found.end = stats, end
    try:
        found.runner = wait_for(lambda: host.runners.get(found.session_id), 20, "the host to take the session")
        yield found
    finally:
        set_status("ended")
        if getattr(found, "runner", None) is not None:
            found.runner.join(timeout=30)
        host.stop()
        serving.join(timeout=30)
        stop(publisher)
    assert not serving.is_alive() and found.runner.outcome is Outcome.ENDED


def row(found) -> StreamSession:
    db.session.rollback()
    return db.session.get(StreamSession, found.session_id)


def test_a_host_pulls_encodes_restarts_and_stops(make_app, rtmp_port, tmp_path, monkeypatch):
    """The default, LL-HLS: every playlist written, across an ffmpeg restart, keeps the spec's rules."""
    steady_encoder(monkeypatch)
    pids = []
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "streamer", size="1280x720") as live:
        app, host, out = live.app, live.host, live.out
        watcher = PlaylistWatcher({rung: out / rung / "index.m3u8" for rung in ("720p", "480p", "360p")})
        watcher.__enter__()
        try:
            master = wait_for(lambda: (out / "master.m3u8").exists() and "FRAME-RATE" in
                              (out / "master.m3u8").read_text() and (out / "master.m3u8").read_text(),
                              60, "a complete master playlist")
            variants = [line for line in master.splitlines() if line.endswith(".m3u8")]
            assert variants == ["720p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"]
            assert "1080p" not in master
            for line in (inf for inf in master.splitlines() if inf.startswith("#EXT-X-STREAM-INF")):
                assert all(a in line for a in ("BANDWIDTH=", "RESOLUTION=", "CODECS=", "FRAME-RATE=30.000"))
            for rung, size in (("720p", (1280, 720)), ("480p", (854, 480)), ("360p", (640, 360))):
                wait_for(lambda: list((out / rung).glob("s[0-9]*.m4s")), 20,  # noqa: B023 - waited for at once
                         f"a {rung} segment")
                assert decoded_size(out / rung) == size

            first = wait_for(lambda: (s := live.stats()) and s.get("speed") and s["ffmpeg_pid"] and s, 20, "stats")
            assert first["encoder"] == host.encoder.name and first["preset"] == "veryfast"
            assert first["mode"] == "ladder" and first["host"] == host.id
            assert [r["name"] for r in first["ladder"]] == ["720p", "480p", "360p"] and first["state"] == "running"
            with app.app_context():
                panel = parse_stats(first)  # what the dashboard makes of it
                assert [r.name for r in panel.rungs] == ["720p", "480p", "360p"] and panel.speed
            assert "drop_frames" in first and first["restarts"] == 0
            with app.app_context():
                assert get_redis().ttl(host.keys.stats(live.session_id)) <= STATS_TTL
                owner, token = holder(get_redis(), host.keys, live.session_id)
                session = row(live)
                assert owner == host.id and session.host == host.id and session.lease_token == token
                assert session.mode == "ladder" and session.mode_reason.startswith("Full quality ladder")
                assert [r["name"] for r in session.renditions] == ["720p", "480p", "360p"]
                assert all(r["delivery"] == "ll-hls" and not r["passthrough"] for r in session.renditions)
                # Announced live once it plays (at the runner's next look after the master is whole).
                session = wait_for(lambda: (s := row(live)).playable_at is not None and s, 10, "the announcement")
                assert session.channel.is_live
                key = f"thumbnails/{live.channel_id}/live.jpg"
                wait_for(lambda: get_storage().exists(key), 20, "the live thumbnail")
                assert get_storage().get_bytes(key)[:2] == b"\xff\xd8"
                db.session.rollback()
                assert db.session.get(Channel, live.channel_id).thumbnail_key == key

            measured = wait_for(lambda: (s := live.stats()) and all(r["kbps"] for r in s["ladder"]) and s, 15,
                                "measured bitrates per rung")
            assert measured["ladder"][0]["kbps"] > measured["ladder"][2]["kbps"]

            # A second host backs off: the first one holds the session's lease.
            with app.app_context():
                other = LiveHost(app, host_id="test-other", model=ANY_LADDER_FITS)
                other.take(live.session_id)
                assert other.runners == {}

            # A killed ffmpeg is restarted while the session is live.
            pids.append(first["ffmpeg_pid"])
            pull, source = live.runner.run_.relay.process.pid, live.runner.source
            os.kill(first["ffmpeg_pid"], signal.SIGKILL)
            second = wait_for(lambda: (s := live.stats()) and s["restarts"] >= 1 and s["ffmpeg_pid"]
                              and s["ffmpeg_pid"] != first["ffmpeg_pid"] and s, 30, "a restarted ffmpeg")
            pids.append(second["ffmpeg_pid"])
            assert not alive(first["ffmpeg_pid"])
            assert host.runners[live.session_id] is live.runner  # the same runner carries on
            # On the same pull (a new one may land on an nginx worker that does not hold the stream,
            # after a reload) and the same source: not probed again mid-stream, where the frame
            # rate reads wrong.
            assert live.runner.run_.relay.process.pid == pull and live.runner.source is source
            assert second["input_age"] is not None and second["input_age"] < 2
            # The restarted run carries on the numbering after a discontinuity, with its own init.
            carried_on = wait_for(lambda: (p := check_playlist((out / "720p" / "index.m3u8").read_text()))
                                  and p.segments[-1].discontinuity == 1 and len(p.segments[-1].parts) > 1 and p,
                                  30, "the restarted run's parts")
            assert len({s.init for s in carried_on.segments}) == 2

            # The session ends: the runner stops ffmpeg, ends the playlists and lets the session go.
            live.end()
            watcher.stop()
            assert live.runner.outcome is Outcome.ENDED
            # Enough versions of every playlist for the rules to mean something (about 3 a second
            # while a run lasts; how long the runs last depends on how busy the machine is).
            assert all(history.count >= 8 for history in watcher.histories.values()), \
                {rung: history.count for rung, history in watcher.histories.items()}
            for rung in ("720p", "480p", "360p"):
                assert check_playlist((out / rung / "index.m3u8").read_text()).ended
            assert not any(alive(pid) for pid in pids)
            assert live.stats() is None
            assert live.session_id not in host.runners
            with app.app_context():
                assert holder(get_redis(), host.keys, live.session_id) is None
                assert finish_session(live.session_id) == "kept"
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
            for pid in pids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_too_slow_an_encode_restarts_lighter_and_says_why(make_app, rtmp_port, tmp_path, monkeypatch):
    # No machine encodes at 100x real time from a live source: every sample is "too slow".
    monkeypatch.setattr(live_session, "HeadroomWatch",
                        functools.partial(HeadroomWatch, warmup=1.0, window=3.0, min_speed=100.0))
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "slowpoke") as live:
        seen = []
        lighter = wait_for(lambda: (s := live.stats()) and not seen.append(s) and s["preset"] == "superfast" and s,
                           90, "a restart on a faster preset",
                           lambda: f"(runner: {live.runner.outcome or 'running'}; last stats: {seen[-1:]})")
        assert lighter["headroom_step"] == 1 and "real time" in lighter["note"]
        assert "superfast" in lighter["note"] and lighter["restarts"] >= 1
        with live.app.app_context():
            session = row(live)
            assert session.renditions[0]["preset"] == "superfast" and session.renditions[0]["note"] == lighter["note"]
            assert session.renditions[0]["headroom_step"] == 1 and lighter["note"] in session.mode_reason


def test_normal_latency_gets_classic_hls_of_one_second_segments(make_app, rtmp_port, tmp_path, monkeypatch):
    steady_encoder(monkeypatch)
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "classic", latency="normal") as live:
        out = live.out
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
        with live.app.app_context():
            assert row(live).renditions[0]["delivery"] == "hls"
            wait_for(lambda: row(live).playable_at, 10, "the session announced playable")


def test_a_host_with_no_room_passes_the_source_through(make_app, rtmp_port, tmp_path, monkeypatch):
    """No ladder fits: viewers get the publisher's H.264/AAC repackaged as LL-HLS, one rendition
    named after the source's height, its parts within PART-TARGET, and a recording."""
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "passer", size="960x540",
                   model=NOTHING_FITS) as live:
        app, out = live.app, live.out
        playlist_path = out / "540p" / "index.m3u8"
        master = wait_for(lambda: (out / "master.m3u8").exists() and (out / "master.m3u8").read_text(),
                          60, "the master playlist")
        assert [line for line in master.splitlines() if line.endswith(".m3u8")] == ["540p/index.m3u8"]
        assert "RESOLUTION=960x540" in master
        wait_for(lambda: playlist_path.exists(), 10, "the rendition's playlist")

        # A player polling the playlist: every part within PART-TARGET and every rule of
        # llhls_rules, version after version (the audio before the first picture is no part).
        history, seen = PlaylistHistory(), None
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            text = playlist_path.read_text()
            if text != seen:
                seen = text
                whole = parse(text)
                assert all(part["duration"] <= whole.part_target + 1e-9
                           for segment in whole.segments for part in segment.parts), text
                history.add(text)
            time.sleep(0.02)
        assert history.count > 12
        wait_for(lambda: len(list((out / "540p").glob("s[0-9]*.m4s"))) >= 4, 30, "four passthrough segments")
        assert decoded_size(out / "540p") == (960, 540)
        current = check_playlist(playlist_path.read_text())
        durations = [s.duration for s in current.segments if s.duration is not None]
        assert durations and all(abs(d - 1.0) < 0.05 for d in durations), durations  # the publisher's 1 s GOPs

        stats = wait_for(lambda: (s := live.stats()) and s["state"] == "running" and s, 20, "stats")
        assert stats["mode"] == "passthrough" and "passthrough" in stats["encoder"] and stats["preset"] is None
        assert stats["speed"] is None and stats["ladder"][0]["target_kbps"] is None
        assert [r["name"] for r in stats["ladder"]] == ["540p"]
        with app.app_context():
            session = row(live)
            assert session.mode == "passthrough" and "exactly as you send it" in session.mode_reason
            (rendition,) = session.renditions
            assert rendition["name"] == "540p" and rendition["passthrough"] and rendition["encoder"] == "copy"
            assert (rendition["width"], rendition["height"]) == (960, 540) and rendition["delivery"] == "ll-hls"
            assert live.host.runners[live.session_id].cost < 0.1
            wait_for(lambda: row(live).playable_at, 10, "the session announced playable")
        live.end()
        assert check_playlist(playlist_path.read_text()).ended
        with app.app_context():
            assert finish_session(live.session_id) == "kept"
        manifest = json.loads((out / "recording.json").read_text())
        recorded = manifest["rungs"]["540p"]
        assert set(manifest["rungs"]) == {"540p"} and recorded["playlist"] == "recording.m3u8"
        assert len(recorded["segments"]) >= 4 and len(recorded["inits"]) == 1
        assert not list((out / "540p").glob("p*.m4s"))


def test_with_s3_live_hls_and_the_recording_reach_the_bucket(make_app, rtmp_port, tmp_path, monkeypatch,
                                                            s3_config):
    """STORAGE_BACKEND=s3: parts, segments and playlists are stored as they are written, the app
    answers a blocking reload from the bucket, and once the session ends the bucket holds what
    a VOD job on another host needs (ended playlists, recording lists, recording.json), no parts."""
    steady_encoder(monkeypatch)
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "bucketeer", **s3_config) as live:
        app, out = live.app, live.out
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

        live.end()
        with app.app_context():
            assert finish_session(live.session_id) == "kept"

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
    steady_encoder(monkeypatch)
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "classicbucket", latency="normal",
                   **s3_config) as live:
        app, out = live.app, live.out
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
        live.end()
        with app.app_context():
            assert finish_session(live.session_id) == "kept"
        keys = {obj.key[len(prefix):] for obj in storage.list(prefix)}
        assert "recording.json" in keys and not any(key.endswith(".tmp") for key in keys)
        local = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
        assert keys == local - {"master.ffmpeg.m3u8"} | ({"master.ffmpeg.m3u8"} & keys)
        segments = json.loads(storage.get_bytes(prefix + "recording.json"))["rungs"]["360p"]["segments"]
        assert len(segments) >= 3 and all(f"360p/{name}" in keys for name in segments)


def test_a_passthrough_gains_lower_renditions_when_capacity_frees_and_loses_them_when_they_lag(
        make_app, rtmp_port, tmp_path, monkeypatch):
    """Capacity frees while a source passes through: lower rungs join it, cut at the source's
    keyframes under the passthrough's segment numbers and dates, listed in the master; the
    passthrough (and its recording) goes on without a break. When their ffmpeg dies or their
    encode falls behind, they are taken out again and the passthrough goes on alone."""
    from workers.live import upgrade

    steady_encoder(monkeypatch)
    monkeypatch.setattr(upgrade, "HeadroomWatch", functools.partial(HeadroomWatch, warmup=1000.0))
    with broadcast(make_app, rtmp_port, tmp_path, monkeypatch, "upgraded", size="960x540",
                   model=NOTHING_FITS) as live:
        app, out, host = live.app, live.out, live.host
        source_playlist = out / "540p" / "index.m3u8"
        wait_for(lambda: (out / "master.m3u8").exists(), 60, "the passthrough's master")
        runner = host.runners[live.session_id]
        assert runner.mode == "passthrough" and runner.added is None
        watcher = PlaylistWatcher({0: source_playlist})
        with watcher:
            host.model = ANY_LADDER_FITS  # capacity frees
            master = wait_for(lambda: "480p/index.m3u8" in (text := (out / "master.m3u8").read_text()) and text,
                              30, "the master to list the added renditions")
            assert [line for line in master.splitlines() if line.endswith(".m3u8")] == [
                "540p/index.m3u8", "480p/index.m3u8", "360p/index.m3u8"]
            assert master.count("FRAME-RATE=30.000") == 3
            added = {name: out / name / "index.m3u8" for name in ("480p", "360p")}
            wait_for(lambda: all(len([s for s in check_playlist(p.read_text()).segments if s.duration]) >= 3
                                 for p in added.values()), 30, "three segments of each added rendition")
            source = check_playlist(source_playlist.read_text())
            twins = {segment.msn: segment for segment in source.segments if segment.duration}
            for name, path in added.items():
                for segment in (s for s in check_playlist(path.read_text()).segments if s.duration):
                    if segment.msn in twins:
                        twin = twins[segment.msn]
                        assert segment.program_date == twin.program_date and segment.discontinuity == twin.discontinuity
                        assert abs(segment.duration - twin.duration) < 0.04, (name, segment, twin)
            assert decoded_size(out / "480p") == (854, 480)
            stats = wait_for(lambda: (s := live.stats()) and len(s["ladder"]) == 3 and s, 10, "stats of three rungs")
            assert [r["name"] for r in stats["ladder"]] == ["540p", "480p", "360p"]
            assert stats["ladder"][0]["target_kbps"] is None and stats["ladder"][1]["target_kbps"]
            with app.app_context():
                session = row(live)
                assert session.mode == "passthrough" and "Lower qualities were added" in session.mode_reason
                assert [r["name"] for r in session.renditions] == ["540p", "480p", "360p"]
                assert [r["passthrough"] for r in session.renditions] == [True, False, False]
            assert runner.extra_cost == runner.added.cost and host.info.reserved_cores >= runner.extra_cost

            def listed() -> list[str]:
                return [line for line in (out / "master.m3u8").read_text().splitlines() if line.endswith(".m3u8")]

            # Their ffmpeg killed: they go, the passthrough stays; after the retry pause they return.
            os.kill(runner.added.run.pid, signal.SIGKILL)
            wait_for(lambda: listed() == ["540p/index.m3u8"], 20, "the dead renditions to leave the master")
            assert runner.run_ is not None and runner.run_.poll() is None
            runner.no_gain_until = 0.0  # instead of waiting out RETRY_AFTER
            wait_for(lambda: len(listed()) == 3 and runner.added is not None, 40, "the renditions to return")

            # Their encode falls behind: they go, the passthrough stays.
            runner.added.headroom = HeadroomWatch(time.monotonic(), warmup=0.0, window=4.0, min_speed=100.0)
            wait_for(lambda: listed() == ["540p/index.m3u8"], 20, "the lagging renditions to leave the master")
            with app.app_context():
                wait_for(lambda: [r["name"] for r in row(live).renditions] == ["540p"], 10, "the row to say so")
            assert runner.added is None
            assert runner.run_ is not None and runner.run_.poll() is None
            time.sleep(2)
        history = watcher.histories[0]
        assert history.count > 20
        # One run from start to end: the source's playlist never restarted.
        assert "#EXT-X-DISCONTINUITY" not in source_playlist.read_text()
        live.end()
        with app.app_context():
            assert finish_session(live.session_id) == "kept"
        manifest = json.loads((out / "recording.json").read_text())
        assert set(manifest["rungs"]) == {"540p"}
