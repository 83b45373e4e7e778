"""build_vod on real recordings: ffmpeg makes the media (faster than real time), the real
packagers and finish_session leave it as a broadcast would, and the job runs in-process on
both storage backends."""
from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from flask import current_app
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db, get_redis
from app.live.state import hls_dir, new_internal_name
from app.media import vod as media
from app.media.encoder import X264, Encoder
from app.media.ffmpeg_args import filter_graph, ll_output_args, ll_target_duration, part_plan, transcode_args
from app.media.fmp4 import iter_boxes
from app.media.ladder import Source, ladder_for
from app.media.llladder import LadderPackager
from app.models import VOD, StreamSession, utcnow
from app.models.channel import LATENCY_NORMAL
from app.storage.backends import get_storage
from tests.e2e.conftest import require_tool
from tests.factories import make_live, make_user
from tests.media.llhls_rules import check_playlist
from workers import context
from workers import vod as job
from workers.live.finish import finish_session

SECONDS = 20
CLASSIC_SECONDS = 10
RUNGS = ladder_for(Source(854, 480, 30))  # 480p and 360p
# The database only matters where the row is made; the rest runs on SQLite alone.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SOURCE = "testsrc2=size=854x480:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]"


# --- media, made once per module -------------------------------------------------------------


def record_ll(out: Path, runs: list[int]) -> Path:
    """An LL-HLS recording of `runs` ffmpeg runs (seconds each) through the real packagers; a
    later run resumes the playlists as a restarted live encoder does (a discontinuity)."""
    ffmpeg = require_tool("ffmpeg")
    plans = [part_plan(rung.fps) for rung in RUNGS]
    for number, seconds in enumerate(runs):
        ladder = LadderPackager(out, RUNGS, plans, target_duration=ll_target_duration(RUNGS, plans))
        fds = ladder.open_pipes()
        graph = filter_graph(RUNGS, Encoder(X264), 30, thumbnail=False)
        args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-t", str(seconds),
                "-f", "lavfi", "-i", SOURCE,
                "-filter_complex", graph.text]
        for video, rung, plan, fd in zip(graph.rungs, RUNGS, plans, fds):
            args += ll_output_args(video, rung, plan, fd, has_audio=True, preset="ultrafast")
        process = subprocess.Popen(args, pass_fds=fds, stderr=subprocess.PIPE)
        ladder.start()
        try:
            assert process.wait(120) == 0, process.stderr.read().decode()
        finally:
            process.stderr.close()
            if number == len(runs) - 1:
                ladder.finish()
            else:
                ladder.close()
        assert ladder.errors == []
    return out


def record_classic(out: Path, seconds: int) -> Path:
    """A normal-latency recording: ffmpeg's own HLS muxer with a live ladder's command, only
    reading the test source instead of the RTMP pull."""
    args = transcode_args(SOURCE, str(out), RUNGS, encoder=Encoder(X264), preset="ultrafast",
                          has_audio=True, source_fps=30, record=True, thumbnail_path=None,
                          start_number=int(time.time() * 10), progress=None, live_input=False,
                          ffmpeg=require_tool("ffmpeg"), loglevel="error")
    at = args.index("-i")
    args[at:at] = ["-t", str(seconds), "-f", "lavfi"]
    result = subprocess.run(args, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return out


@pytest.fixture(scope="module")
def ll_recording(tmp_path_factory) -> Path:
    return record_ll(tmp_path_factory.mktemp("ll") / "out", [SECONDS])


@pytest.fixture(scope="module")
def resumed_recording(tmp_path_factory) -> Path:
    return record_ll(tmp_path_factory.mktemp("resumed") / "out", [8, 6])


@pytest.fixture(scope="module")
def classic_recording(tmp_path_factory) -> Path:
    return record_classic(tmp_path_factory.mktemp("classic") / "out", CLASSIC_SECONDS)


# --- the app and a finished session ----------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def backend(request):
    return request.param


@pytest.fixture
def vod_app(make_app, tmp_path, monkeypatch, request):
    """The worker's app on this test's database and storage (local unless the test asks for
    the `backend` it is parametrised with)."""
    config = {"MEDIA_ROOT": str(tmp_path / "media"), "STORAGE_ROOT": str(tmp_path / "objects"),
              "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}", "VOD_LOCK_WAIT": 1.0}
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "s3":
        config.update(request.getfixturevalue("s3_config"))
    app = make_app(**config)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app
        redis = get_redis()
        for key in redis.scan_iter("cascade:vod:*"):
            redis.delete(key)


def ended_session(recording: Path, *, title: str = "Evening stream", latency: str | None = None
                  ) -> StreamSession:
    """A session that recorded `recording` and has just ended: its output in place and
    finish_session run (which writes recording.json, and on S3 copies it all to the bucket)."""
    user = make_user()
    if latency:
        user.channel.latency_mode = latency
    session = make_live(user)
    session.title = title
    session.renditions = [{**rung.as_dict(), "playlist": f"{rung.name}/index.m3u8"} for rung in RUNGS]
    session.status = "ended"
    session.ended_at = utcnow()
    db.session.commit()
    session.internal_name = new_internal_name()  # as the publish hook names it
    db.session.commit()
    shutil.copytree(recording, live_output(session))
    assert finish_session(session.id) == "kept"
    return session


def live_output(session: StreamSession) -> Path:
    return hls_dir(current_app.config, session.internal_name)


def stored(prefix: str) -> dict[str, int]:
    return {obj.key: obj.size for obj in get_storage().list(prefix)}


def fetch(prefix: str, into: Path) -> Path:
    """The VOD's objects as local files, for ffprobe (whatever the backend)."""
    storage = get_storage()
    for key in stored(prefix):
        path = into / key[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        storage.get_file(key, path)
    return into


def probe(path: Path) -> dict:
    result = subprocess.run([require_tool("ffprobe"), "-v", "error", "-show_entries",
                             "format=duration:stream=codec_name,codec_type,width,height", "-of", "json",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_vod(vod: VOD, session: StreamSession, seconds: float, tmp_path: Path, *, runs: int = 1) -> dict:
    """Everything a VOD must be: its row, its objects, playlists players read, the MP4, the
    poster and seek previews. Returns the objects (key -> size)."""
    prefix = f"vods/{session.id}/"
    assert vod.session_id == session.id and vod.channel_id == session.channel_id
    assert vod.visibility == "private" and vod.published_at is None
    assert vod.title == (session.title or session.channel.title)
    assert abs(vod.duration_seconds - seconds) <= 1.0, vod.duration_seconds
    assert vod.storage_prefix == prefix and vod.object_key == prefix + "master.m3u8"
    assert vod.download_key == prefix + "video.mp4" and vod.thumbnail_key == prefix + "poster.jpg"
    assert vod.thumbnails_key == prefix + "thumbnails.vtt"
    assert vod.started_at is not None
    objects = stored(prefix)
    assert vod.size_bytes == sum(objects.values())

    local = fetch(prefix, tmp_path / "vod")
    master = (local / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF:") == len(RUNGS)
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in master
    for rung in RUNGS:
        assert f"RESOLUTION={rung.width}x{rung.height}" in master and f"\n{rung.name}/index.m3u8\n" in master
    assert 'CODECS="avc1.' in master and "mp4a.40.2" in master
    listed = {f"{prefix}master.m3u8", f"{prefix}video.mp4", f"{prefix}poster.jpg",
              f"{prefix}thumbnails.vtt"}
    for rung in RUNGS:
        text = (local / rung.name / "index.m3u8").read_text()
        playlist = check_playlist(text)
        assert playlist.ended and "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-VERSION:7" in text
        assert "#EXT-X-INDEPENDENT-SEGMENTS" in text and "#EXT-X-PROGRAM-DATE-TIME:" in text
        assert text.count("#EXT-X-DISCONTINUITY\n") == runs - 1
        assert len({s.init for s in playlist.segments}) == runs
        assert abs(sum(s.duration for s in playlist.segments) - vod.duration_seconds) < 0.05
        # ~6 s segments, except where a run ends.
        assert sum(1 for s in playlist.segments if 5.9 <= s.duration <= 7) >= len(playlist.segments) - runs
        listed |= {f"{prefix}{rung.name}/index.m3u8"} | {f"{prefix}{rung.name}/{s.uri}" for s in playlist.segments}
        listed |= {f"{prefix}{rung.name}/{s.init}" for s in playlist.segments}
    vtt = (local / "thumbnails.vtt").read_text()
    assert vtt.startswith("WEBVTT\n")
    sprites = set(re.findall(r"^(sprite-\d+\.jpg)#xywh=\d+,\d+,160,90$", vtt, flags=re.M))
    assert sprites and vtt.count(" --> ") == len(re.findall(r"#xywh=", vtt))
    listed |= {prefix + name for name in sprites}
    assert set(objects) == listed  # every object is named by a playlist or the row, and exists

    # Players read the whole set: ffprobe through the master playlist, and the download.
    codecs = {s["codec_name"] for s in probe(local / "master.m3u8")["streams"]}
    assert {"h264", "aac"} <= codecs
    mp4 = probe(local / "video.mp4")
    assert {s["codec_name"] for s in mp4["streams"]} == {"h264", "aac"}
    assert abs(float(mp4["format"]["duration"]) - seconds) <= 1.0
    top = [box for box, _, _ in iter_boxes((local / "video.mp4").read_bytes())]
    assert top.index("moov") < top.index("mdat"), top  # faststart
    with Image.open(local / "poster.jpg") as poster:
        assert poster.format == "JPEG" and poster.width == 854
    with Image.open(local / "sprite-0.jpg") as sprite:
        assert sprite.size == (1600, 900)
    return objects


def assert_live_output_gone(session: StreamSession) -> None:
    assert not live_output(session).exists()
    assert stored(f"hls/{session.internal_name}/") == {}


# --- the job -----------------------------------------------------------------------------------


@pytest.mark.media
def test_a_recording_becomes_a_private_vod(vod_app, backend, ll_recording, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="workers.vod")
    session = ended_session(ll_recording)
    started = time.monotonic()
    vod_id = job.build_vod(session.id)
    took = time.monotonic() - started
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "workers.vod")
    assert f"session {session.id} ({session.internal_name}): VOD {vod_id} ready: 20.0 s, 2 rungs (480p/360p)" in ours
    assert "vods/" not in ours and "hls/" not in ours  # no storage keys in its logs
    vod = db.session.get(VOD, vod_id)
    check_vod(vod, session, SECONDS, tmp_path)
    assert_live_output_gone(session)
    assert took < 15, f"a {SECONDS} s broadcast took {took:.1f} s to become a VOD"
    assert not list((Path(vod_app.config["MEDIA_ROOT"]) / "work").iterdir())  # scratch cleaned


@pytest.mark.media
@ONE_DATABASE
def test_a_restart_in_the_recording_becomes_a_discontinuity(vod_app, resumed_recording, tmp_path):
    session = ended_session(resumed_recording)
    vod = db.session.get(VOD, job.build_vod(session.id))
    check_vod(vod, session, 14, tmp_path, runs=2)
    text = get_storage().get_bytes(f"vods/{session.id}/480p/index.m3u8").decode()
    assert text.index('#EXT-X-MAP:URI="init-0.mp4"') < text.index("#EXT-X-DISCONTINUITY") \
        < text.index('#EXT-X-MAP:URI="init-1.mp4"')


@pytest.mark.media
def test_running_twice_gives_one_vod_and_the_same_objects(vod_app, backend, ll_recording):
    session = ended_session(ll_recording)
    first = job.build_vod(session.id)
    objects = stored(f"vods/{session.id}/")
    assert job.build_vod(session.id) == first
    assert stored(f"vods/{session.id}/") == objects
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 1


@pytest.mark.media
@ONE_DATABASE
def test_a_run_that_fails_midway_is_retried_to_one_correct_vod(vod_app, backend, ll_recording,
                                                                 monkeypatch, tmp_path):
    session = ended_session(ll_recording)
    prefix = f"vods/{session.id}/"
    # What an earlier run killed at another point might have left: an object this build would
    # not make.
    get_storage().put_bytes(prefix + "480p/seg-99.m4s", b"left over")

    storage = get_storage()
    calls = {"count": 0}
    real_put_bytes = type(storage).put_bytes

    def failing_put_bytes(self, key, data, content_type=None):
        calls["count"] += 1
        if calls["count"] == 5:
            raise OSError("the store went away")
        return real_put_bytes(self, key, data, content_type)

    monkeypatch.setattr(type(storage), "put_bytes", failing_put_bytes)
    with pytest.raises(OSError, match="the store went away"):
        job.build_vod(session.id)
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 0
    assert stored(prefix) and f"{prefix}master.m3u8" not in stored(prefix)
    assert live_output(session).is_dir()  # the recording is kept for the retry

    vod = db.session.get(VOD, job.build_vod(session.id))  # RQ's retry
    objects = check_vod(vod, session, SECONDS, tmp_path)
    assert prefix + "480p/seg-99.m4s" not in objects
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 1
    assert_live_output_gone(session)


@pytest.mark.media
@ONE_DATABASE
def test_a_run_killed_midway_frees_the_session_and_the_retry_finishes(vod_app, ll_recording, tmp_path):
    """SIGKILL, as a worker's death does: its lock (2 s TTL here) and scratch stay behind."""
    session = ended_session(ll_recording)
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI",
            "SOCKETIO_USE_QUEUE", "SOCKETIO_ASYNC_MODE", "HOOK_SECRET", "MEDIA_ROOT", "STORAGE_ROOT")
    config = {key: vod_app.config[key] for key in keys} | {"VOD_LOCK_SECONDS": 2}
    # Each segment upload takes a while, so the kill lands with some objects stored.
    code = ("import time\n"
            "from app.storage import backends as storage\n"
            "real = storage.LocalStorage.put_bytes\n"
            "def slow(self, key, data, content_type=None):\n"
            "    real(self, key, data, content_type)\n"
            "    time.sleep(0.2)\n"
            "storage.LocalStorage.put_bytes = slow\n"
            "from app import create_app\n"
            "from workers import context, vod\n"
            f"context._app = create_app({config!r})\n"
            f"vod.build_vod({session.id})\n")
    prefix = f"vods/{session.id}/"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=str(Path(__file__).parents[2]),
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(stored(prefix)) < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()
        process.kill()
        process.wait(10)
    finally:
        process.stderr.close()
    assert get_redis().exists(job.LOCK_KEY.format(session.id))
    assert list((Path(vod_app.config["MEDIA_ROOT"]) / "work").glob(f"vod-{session.id}-*"))
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 0
    assert f"{prefix}master.m3u8" not in stored(prefix)

    vod_app.config["VOD_LOCK_WAIT"] = 10.0  # the retry waits out the dead run's lock
    vod = db.session.get(VOD, job.build_vod(session.id))
    check_vod(vod, session, SECONDS, tmp_path)
    assert not list((Path(vod_app.config["MEDIA_ROOT"]) / "work").iterdir())


@pytest.mark.media
@ONE_DATABASE
def test_a_classic_recording_is_timed_from_its_fragments(vod_app, classic_recording, tmp_path):
    session = ended_session(classic_recording, title="", latency=LATENCY_NORMAL)
    session.channel.title = "Channel title"
    db.session.commit()
    for rung in RUNGS:  # a last segment ffmpeg was killed writing: left out
        last = max((live_output(session) / rung.name).glob("seg_*.m4s"),
                   key=lambda p: int(p.stem[4:]))
        last.write_bytes(last.read_bytes()[:-100])
    assert "playlist" not in json.loads(
        (live_output(session) / "recording.json").read_text())["rungs"]["480p"]
    vod = db.session.get(VOD, job.build_vod(session.id))
    check_vod(vod, session, CLASSIC_SECONDS - 1, tmp_path)
    assert abs(vod.duration_seconds - (CLASSIC_SECONDS - 1)) < 0.2  # timed from the fragments


@pytest.mark.media
@ONE_DATABASE
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_on_s3_another_host_builds_it_from_the_bucket(vod_app, backend, ll_recording, tmp_path):
    session = ended_session(ll_recording)
    out = live_output(session)
    storage = get_storage()
    for path in out.rglob("*"):  # the bucket copy finish_session keeps on S3
        if path.is_file():
            storage.put_file(f"hls/{session.internal_name}/{path.relative_to(out).as_posix()}", path)
    shutil.rmtree(out)  # this host never had the recording
    vod = db.session.get(VOD, job.build_vod(session.id))
    check_vod(vod, session, SECONDS, tmp_path)
    assert_live_output_gone(session)


def test_no_recording_is_no_vod_and_no_error(vod_app):
    session = make_live(make_user())
    session.internal_name = new_internal_name()
    db.session.commit()
    assert job.build_vod(session.id) is None  # still live
    session.status, session.ended_at = "ended", utcnow()
    db.session.commit()
    assert job.build_vod(session.id) is None  # nothing recorded
    assert job.build_vod(999_999) is None  # gone
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 0


@pytest.mark.media
@ONE_DATABASE
def test_two_runs_at_once_build_it_once(vod_app, ll_recording, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="workers.vod")
    session = ended_session(ll_recording)
    vod_app.config["VOD_LOCK_WAIT"] = 60.0
    results, errors = [], []

    def run():
        try:
            results.append(job.build_vod(session.id))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    assert caplog.text.count(" ready: ") == 1 and "exists already" in caplog.text  # one waited
    check_vod(db.session.get(VOD, results[0]), session, SECONDS, tmp_path)
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 1


@pytest.mark.media
@ONE_DATABASE
def test_a_second_run_waits_for_the_first_then_gives_up_for_a_retry(vod_app, ll_recording):
    session = ended_session(ll_recording)
    get_redis().set(job.LOCK_KEY.format(session.id), "another run", ex=30)
    started = time.monotonic()
    with pytest.raises(job.VodBusy):
        job.build_vod(session.id)
    assert time.monotonic() - started >= 0.9  # it waited VOD_LOCK_WAIT
    assert stored(f"vods/{session.id}/") == {}
    assert live_output(session).is_dir()


@pytest.mark.media
@ONE_DATABASE
@pytest.mark.parametrize("change", [
    lambda m: m["rungs"].update({"../480p": m["rungs"]["480p"]}),
    lambda m: m["rungs"]["480p"]["segments"].append("../../secret"),
    lambda m: m.update(session_id=m["session_id"] + 1),
    lambda m: m.update(rungs=[]),
])
def test_a_bad_recording_is_refused_and_nothing_changes(vod_app, ll_recording, change):
    session = ended_session(ll_recording)
    manifest_path = live_output(session) / "recording.json"
    manifest = json.loads(manifest_path.read_text())
    change(manifest)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(media.BadRecording):
        job.build_vod(session.id)
    assert stored(f"vods/{session.id}/") == {}
    assert db.session.scalar(select(func.count()).select_from(VOD)) == 0
    assert manifest_path.is_file()
