"""Blocking playlist reload through the app, with real Redis announcements (threads, like the test server).

Every test runs twice: with live HLS read from MEDIA_ROOT/hls (STORAGE_BACKEND=local) and from
the bucket (STORAGE_BACKEND=s3, a real S3 API on loopback) by a web process on another host than
the stand-in packager, which stores each file before announcing it, as the worker's mirror does.
The s3-only tests at the end cover the web beside its live host, which reads its own disk first,
through an outage of the store too.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db
from app.hls import services
from app.media.playlist import parse_media_playlist
from app.storage.atomic import write_atomic
from app.storage.mirror import live_mirror
from tests.conftest import TEST_REDIS_URL, base_config

from .playlists import FakePackager, live_playlist


@pytest.fixture(params=["local", "s3"])
def backend(request) -> dict:
    """The storage config of the app (and the stand-in packager): none, or this test's bucket."""
    return {} if request.param == "local" else request.getfixturevalue("s3_config")


@pytest.fixture
def web_root(tmp_path, backend) -> Path:
    """The web's MEDIA_ROOT: the packager's on the local backend, another host's with S3."""
    return tmp_path / "web" if backend else tmp_path


@pytest.fixture
def hls_app(sqlite_url, web_root, backend):
    app = create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(web_root), **backend})
    yield app
    found = app.extensions.get("cascade_hls_listener")
    if found is not None:
        found.stop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def mirror(tmp_path, backend):
    """What the worker would store the files with: None on the local backend."""
    return live_mirror({**backend, "MEDIA_ROOT": str(tmp_path)})


@pytest.fixture
def files(web_root, backend) -> services.LiveFiles:
    return services.live_files(backend, web_root / "hls")


@pytest.fixture
def name():
    return f"st-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def packager(tmp_path, name, mirror):
    made = FakePackager(tmp_path / "hls", name, "720p", TEST_REDIS_URL, mirror)
    yield made
    made.close()


def listener_of(app) -> services.PartListener:
    with app.test_request_context():
        from app.hls.routes import listener
        return listener()


def live_listener(app) -> services.PartListener:
    found = listener_of(app)
    found.start()
    assert found.wait_until_live(5), "the shared subscriber did not subscribe"
    return found


def get_in_background(app, url: str):
    """Start a GET in a thread; the returned function joins it and gives (response, seconds)."""
    result = {}

    def run():
        started = time.monotonic()
        result["response"] = app.test_client().get(url)
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()

    def finish(timeout: float = 10):
        thread.join(timeout)
        assert not thread.is_alive(), f"{url} was not answered within {timeout} s"
        return result["response"], result["seconds"]
    return finish


def test_existing_part_is_answered_at_once_with_the_whole_playlist(hls_app, packager, name):
    text = live_playlist(first_msn=20, segments=3, parts=2)
    packager.write(text)
    client = hls_app.test_client()
    for query in ("_HLS_msn=23&_HLS_part=1", "_HLS_msn=22", "_HLS_msn=21&_HLS_part=3", "_HLS_msn=5"):
        response = client.get(f"/hls/{name}/720p/index.m3u8?{query}")
        assert response.status_code == 200, query
        assert response.get_data(as_text=True) == text
        assert response.mimetype == "application/vnd.apple.mpegurl"
        assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("query", [
    "_HLS_part=1", "_HLS_msn=-1", "_HLS_msn=1.5", "_HLS_msn=abc", "_HLS_msn=", "_HLS_msn=3&_HLS_part=x",
    "_HLS_msn=3&_HLS_part=-2", "_HLS_skip=NO", "_HLS_skip=yes", "_HLS_msn=26",  # last msn 23: 26 > 23 + 2
])
def test_bad_directives_are_refused_at_once(hls_app, packager, name, query):
    packager.write(live_playlist(first_msn=20, segments=3, parts=2))
    started = time.monotonic()
    response = hls_app.test_client().get(f"/hls/{name}/720p/index.m3u8?{query}")
    assert response.status_code == 400
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("path", [
    "st-{short}/720p/index.m3u8", "{name}/x0/index.m3u8", "{name}/v100/index.m3u8", "{name}/72000p/index.m3u8",
    "ST-{upper}/720p/index.m3u8",
    "{name}/..%2Fv0/index.m3u8", "{name}/a1/index.m3u8",  # well-formed, but no such playlist
])
def test_unknown_or_malformed_streams_are_404(hls_app, packager, name, path):
    packager.write(live_playlist())
    url = "/hls/" + path.format(name=name, short=name[3:10], upper=name[3:].upper()) + "?_HLS_msn=0"
    assert hls_app.test_client().get(url).status_code == 404


def test_held_request_is_answered_when_the_part_is_announced(hls_app, packager, name):
    live_listener(hls_app)
    packager.write(live_playlist(first_msn=0, segments=3, parts=2))
    finish = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=2")
    time.sleep(0.5)
    newer = live_playlist(first_msn=0, segments=3, parts=3)
    packager.write(newer, announce=(3, 2))
    announced = time.monotonic()
    response, seconds = finish()
    assert response.status_code == 200
    assert response.get_data(as_text=True) == newer
    assert seconds >= 0.45  # it was held...
    assert time.monotonic() - announced < 0.5  # ...and woken by the announcement, not a poll


def test_segment_request_waits_for_the_segment_to_complete(hls_app, packager, name):
    live_listener(hls_app)
    packager.write(live_playlist(segments=3, parts=3))
    finish = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8?_HLS_msn=3")
    time.sleep(0.3)
    packager.write(live_playlist(segments=3, parts=4), announce=(3, 3))  # last part, not yet complete
    time.sleep(0.3)
    packager.write(live_playlist(segments=4, parts=0), announce=(3, 3))
    response, seconds = finish()
    assert response.status_code == 200
    assert parse_media_playlist(response.get_data(as_text=True)).last_complete_msn == 3
    assert seconds >= 0.55


def test_announcements_of_other_rungs_do_not_answer(hls_app, tmp_path, packager, name, mirror):
    live_listener(hls_app)
    audio = FakePackager(tmp_path / "hls", name, "a0", TEST_REDIS_URL, mirror)
    try:
        packager.write(live_playlist(segments=3, parts=2))
        audio.write(live_playlist(segments=3, parts=2))
        finish = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=2")
        time.sleep(0.2)
        audio.write(live_playlist(segments=3, parts=3), announce=(3, 2))
        time.sleep(0.3)
        assert listener_of(hls_app).waiting() == 1
        packager.write(live_playlist(segments=3, parts=3), announce=(3, 2))
        response, _ = finish()
        assert response.status_code == 200
    finally:
        audio.close()


@pytest.mark.outage
def test_unanswerable_request_gets_503_after_three_target_durations(hls_app, packager, name):
    live_listener(hls_app)
    packager.write(live_playlist(segments=3, parts=2, target=1))
    response, seconds = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8?_HLS_msn=4&_HLS_part=0")()
    assert response.status_code == 503
    assert 2.9 <= seconds < 4
    assert listener_of(hls_app).waiting() == 0


def test_ended_playlist_ignores_directives(hls_app, packager, name):
    text = live_playlist(segments=3, ended=True)
    packager.write(text)
    response = hls_app.test_client().get(f"/hls/{name}/720p/index.m3u8?_HLS_msn=9&_HLS_part=0&_HLS_skip=YES")
    assert response.status_code == 200 and response.get_data(as_text=True) == text


def test_a_plain_request_is_held_until_the_next_part_is_listed(hls_app, packager, name):
    # A player's first playlist: fresh, so the edge it places itself behind is the real one.
    live_listener(hls_app)
    packager.write(live_playlist(first_msn=0, segments=3, parts=2, part_duration=1.0))
    finish = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8")
    time.sleep(0.5)
    newer = live_playlist(first_msn=0, segments=3, parts=3, part_duration=1.0)
    packager.write(newer, announce=(3, 2))
    announced = time.monotonic()
    response, seconds = finish()
    assert response.status_code == 200 and response.get_data(as_text=True) == newer
    assert seconds >= 0.45 and time.monotonic() - announced < 0.5


def test_a_plain_request_held_past_its_next_part_gets_the_playlist_as_it_stands(hls_app, packager, name):
    live_listener(hls_app)
    text = live_playlist(first_msn=0, segments=3, parts=3, parts_per_segment=3, part_duration=0.4)
    packager.write(text)  # the last part of segment 3: the next one is segment 4's first
    response, seconds = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8?_HLS_skip=YES")()
    assert response.status_code == 200  # never a 503: the request asked for no part
    assert response.get_data(as_text=True).startswith("#EXTM3U")
    assert services.FRESH_PART_TARGETS * 0.4 - 0.05 <= seconds < 1.5
    assert listener_of(hls_app).waiting() == 0


@pytest.mark.parametrize("text", [
    live_playlist(segments=3, ended=True),
    live_playlist(segments=3, parts=2).replace("CAN-BLOCK-RELOAD=YES,", ""),
    ("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:4\n"
     "#EXTINF:1.000,\nseg_4.m4s\n#EXTINF:1.000,\nseg_5.m4s\n"),  # classic HLS
], ids=["ended", "no blocking reload", "classic"])
def test_a_plain_request_for_a_playlist_without_growing_parts_is_answered_at_once(hls_app, packager, name, text):
    packager.write(text)
    started = time.monotonic()
    response = hls_app.test_client().get(f"/hls/{name}/720p/index.m3u8")
    assert response.status_code == 200 and response.get_data(as_text=True) == text
    assert time.monotonic() - started < 0.3


def test_skip_gives_a_delta_update_once_the_part_exists(hls_app, packager, name):
    live_listener(hls_app)
    packager.write(live_playlist(segments=12, parts=1))
    finish = get_in_background(hls_app, f"/hls/{name}/720p/index.m3u8?_HLS_msn=12&_HLS_part=1&_HLS_skip=YES")
    time.sleep(0.2)
    packager.write(live_playlist(segments=12, parts=2), announce=(12, 1))
    response, _ = finish()
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n" in body and "#EXT-X-VERSION:9" in body
    assert 'URI="p12.1.m4s"' in body
    # v2 is treated as YES; a playlist without CAN-SKIP-UNTIL answers in full.
    skipping = hls_app.test_client().get(f"/hls/{name}/720p/index.m3u8?_HLS_skip=v2")
    assert "#EXT-X-SKIP" in skipping.get_data(as_text=True)
    packager.write(live_playlist(segments=12, parts=2, skip_until=None))
    full = hls_app.test_client().get(f"/hls/{name}/720p/index.m3u8?_HLS_msn=11&_HLS_skip=YES")
    assert full.status_code == 200 and "#EXT-X-SKIP" not in full.get_data(as_text=True)


def test_hinted_part_is_held_until_written(hls_app, packager, name):
    live_listener(hls_app)
    packager.write(live_playlist(segments=3, parts=2))  # hint: p3.2.m4s
    finish = get_in_background(hls_app, f"/hls/{name}/720p/p3.2.m4s")
    time.sleep(0.3)
    packager.write_part(3, 2, b"\x00\x00\x00\x08moof")
    packager.write(live_playlist(segments=3, parts=3), announce=(3, 2))
    response, seconds = finish()
    with response:
        assert response.status_code == 200 and response.data == b"\x00\x00\x00\x08moof"
        assert response.mimetype == "video/mp4" and seconds >= 0.25
    client = hls_app.test_client()
    with client.get(f"/hls/{name}/720p/p3.2.m4s") as again:
        assert again.status_code == 200  # exists now: at once
    started = time.monotonic()
    for missing in ("p3.9.m4s", "p1.0.m4s", "s9.m4s", "..%2Findex.m3u8", "init.mp4"):
        assert client.get(f"/hls/{name}/720p/{missing}").status_code == 404, missing
    assert time.monotonic() - started < 1  # only the hinted part is held


def test_without_redis_held_requests_poll_the_file(tmp_path, name, mirror, files):
    dead = services.PartListener("redis://127.0.0.1:1/0")  # nothing listens on port 1
    packager = FakePackager(tmp_path / "hls", name, mirror=mirror)
    packager.write(live_playlist(segments=3, parts=2))
    answers = []
    thread = threading.Thread(target=lambda: answers.append(services.answer_playlist(
        files, name, "720p", services.Directives(3, 2), dead)))
    try:
        thread.start()
        time.sleep(0.3)
        assert not dead.live and not answers
        packager.write(live_playlist(segments=3, parts=3))  # no announcement at all
        written = time.monotonic()
        thread.join(5)
        assert answers and answers[0].status == 200
        assert time.monotonic() - written < 0.5
    finally:
        dead.stop()


def test_many_held_requests_share_one_subscription(hls_app, packager, name):
    found = live_listener(hls_app)
    packager.write(live_playlist(segments=3, parts=2))
    url = f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=2"
    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(lambda: hls_app.test_client().get(url)) for _ in range(50)]
        deadline = time.monotonic() + 5
        while found.waiting() < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found.waiting() == 50
        packager.write(live_playlist(segments=3, parts=3), announce=(3, 2))
        announced = time.monotonic()
        statuses = [future.result(timeout=5).status_code for future in futures]
    assert statuses == [200] * 50
    assert time.monotonic() - announced < 1.5
    assert found.waiting() == 0


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, so it can be stopped and started again."""
    import shutil
    import socket
    import subprocess

    from tests.ports import free_port

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()  # a redis-server of its own, on this worker's ports (tests/ports.py)
    processes = []

    def start():
        process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(tmp_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return process
            except OSError:
                time.sleep(0.05)
        pytest.fail("private redis-server did not start")

    def stop():
        process = processes[-1]
        process.terminate()
        process.wait(5)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(5)


@pytest.mark.outage
def test_a_redis_outage_falls_back_to_polling_and_recovers(tmp_path, name, private_redis, mirror, files):
    url, start, stop = private_redis
    found = services.PartListener(url)
    packager = FakePackager(tmp_path / "hls", name, "720p", url, mirror)
    try:
        found.start()
        assert found.wait_until_live(5)
        packager.write(live_playlist(segments=3, parts=2, target=4))
        answers = []

        def held():
            answers.append(services.answer_playlist(files, name, "720p",
                                                    services.Directives(3, 2), found))

        thread = threading.Thread(target=held)
        thread.start()
        time.sleep(0.3)
        stop()
        deadline = time.monotonic() + 3
        while found.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not found.live, "the listener did not notice Redis going away"
        packager.write(live_playlist(segments=3, parts=3, target=4))  # nobody can announce it
        written = time.monotonic()
        thread.join(5)
        assert answers and answers[0].status == 200
        assert time.monotonic() - written < 0.5  # found by polling

        start()
        assert found.wait_until_live(5), "the listener did not resubscribe"
        packager.redis.connection_pool.disconnect()
        thread = threading.Thread(target=lambda: answers.append(services.answer_playlist(
            files, name, "720p", services.Directives(3, 3), found)))
        thread.start()
        time.sleep(0.3)
        packager.write(live_playlist(segments=3, parts=4, target=4), announce=(3, 3))
        thread.join(5)
        assert len(answers) == 2 and answers[1].status == 200
    finally:
        found.stop()
        packager.close()


# --- STORAGE_BACKEND=s3 only ---------------------------------------------------------------------


def s3_app(sqlite_url, tmp_path, **config):
    return create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(tmp_path), **config})


def test_with_s3_the_disk_answers_for_streams_written_here_and_the_bucket_for_the_rest(
        sqlite_url, tmp_path, s3_config, name):
    """The web beside a live host reads what that host writes from disk (never behind the
    bucket); other hosts' streams, and a copy here nobody has rewritten lately (a session another
    host took over), from the bucket."""
    app = s3_app(sqlite_url, tmp_path, **s3_config)
    client = app.test_client()
    here = FakePackager(tmp_path / "hls", name)  # no mirror: written here, not stored yet
    here.write(live_playlist(segments=3, parts=2))
    here.write_part(3, 2, b"part-on-disk")
    assert client.get(f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=1").status_code == 200
    with client.get(f"/hls/{name}/720p/p3.2.m4s") as response:
        assert response.status_code == 200 and response.data == b"part-on-disk"

    elsewhere_root = tmp_path / "elsewhere"
    elsewhere = FakePackager(elsewhere_root / "hls", name, "480p",
                             mirror=live_mirror({**s3_config, "MEDIA_ROOT": str(elsewhere_root)}))
    text = live_playlist(segments=3, parts=3)
    elsewhere.write(text)
    elsewhere.write_part(3, 2, b"stored-part")
    response = client.get(f"/hls/{name}/480p/index.m3u8?_HLS_msn=3&_HLS_part=2")
    assert response.status_code == 200 and response.get_data(as_text=True) == text
    with client.get(f"/hls/{name}/480p/p3.2.m4s") as response:
        assert response.status_code == 200 and response.data == b"stored-part"
        assert response.mimetype == "video/mp4" and "immutable" in response.headers["Cache-Control"]

    # The session moved: this host's copy of 720p stopped changing, the bucket's goes on.
    moved = FakePackager(elsewhere_root / "hls", name, mirror=elsewhere.mirror)
    newer = live_playlist(segments=5, parts=1)
    moved.write(newer)
    stale = time.time() - services.LOCAL_FRESH_SECONDS - 1
    os.utime(here.dir / "index.m3u8", (stale, stale))
    response = client.get(f"/hls/{name}/720p/index.m3u8")
    assert response.status_code == 200 and response.get_data(as_text=True) == newer
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("bucket", ["", "cascade-test-no-such-bucket"])
def test_an_unreadable_store_is_a_clear_503(sqlite_url, tmp_path, s3_config, name, bucket):
    app = s3_app(sqlite_url, tmp_path, **{**s3_config, "S3_BUCKET": bucket})
    client = app.test_client()
    started = time.monotonic()
    for url in (f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=2", f"/hls/{name}/720p/index.m3u8?_HLS_skip=YES",
                f"/hls/{name}/720p/p3.2.m4s"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.mimetype == "text/plain" and "storage is not answering" in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)
    assert time.monotonic() - started < 5
    assert client.get(f"/hls/{name}/v100/index.m3u8?_HLS_msn=1").status_code == 404  # still malformed first
    with app.app_context():
        db.engine.dispose()


def test_held_requests_woken_together_share_one_read_of_the_bucket(sqlite_url, tmp_path, s3_config, name):
    app = s3_app(sqlite_url, tmp_path / "web", **s3_config)  # on another host than the packager
    mirror = live_mirror({**s3_config, "MEDIA_ROOT": str(tmp_path)})
    packager = FakePackager(tmp_path / "hls", name, "720p", TEST_REDIS_URL, mirror)
    reads = []
    storage = mirror.storage
    real_get = storage.get_bytes

    def counted(key):
        reads.append(key)
        return real_get(key)

    storage.get_bytes = counted
    try:
        found = live_listener(app)
        packager.write(live_playlist(segments=3, parts=2))
        url = f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=2"
        with ThreadPoolExecutor(max_workers=30) as pool:
            futures = [pool.submit(lambda: app.test_client().get(url)) for _ in range(30)]
            deadline = time.monotonic() + 5
            while found.waiting() < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert found.waiting() == 30
            before = len(reads)
            packager.write(live_playlist(segments=3, parts=3), announce=(3, 2))
            assert [f.result(timeout=5).status_code for f in futures] == [200] * 30
        assert len(reads) - before < 15, f"{len(reads) - before} reads for 30 woken requests"
    finally:
        del storage.get_bytes  # the instance is shared by every app with these settings
        found.stop()
        packager.close()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.outage
@pytest.mark.parametrize("outage", ["go_silent", "refuse"])
def test_through_an_outage_of_the_store_the_disk_answers_for_streams_written_here(
        sqlite_url, tmp_path, s3_bucket, proxied_s3, name, outage):
    """S3 accepting connections and never answering (or refusing them): the web beside the live
    host answers everything of that host's streams from disk at once, playlists as playlists;
    another host's stream is a 503 (never a 500, never a minute's wait), and is back with the store."""
    server, proxy = proxied_s3
    config = server.config(s3_bucket)
    app = s3_app(sqlite_url, tmp_path, **config)
    client = app.test_client()
    mirror = live_mirror({**config, "MEDIA_ROOT": str(tmp_path)})
    here = FakePackager(tmp_path / "hls", name, mirror=mirror)
    elsewhere = FakePackager(tmp_path / "elsewhere" / "hls", name, "480p",
                             mirror=live_mirror({**config, "MEDIA_ROOT": str(tmp_path / "elsewhere")}))
    elsewhere.write(live_playlist(segments=3))
    here.write(live_playlist(segments=3, parts=2))
    for path, data in (("init-0.mp4", b"init"), ("s2.m4s", b"segment-2")):
        write_atomic(here.dir / path, data)
        mirror.put(here.dir / path)
    write_atomic(tmp_path / "hls" / name / "master.m3u8", b"#EXTM3U\n720p/index.m3u8\n")

    getattr(proxy, outage)()
    text = live_playlist(segments=3, parts=3)
    write_atomic(here.dir / "index.m3u8", text.encode())  # the worker's upload of it fails now
    write_atomic(here.dir / "p3.2.m4s", b"newest-part")
    started = time.monotonic()
    for url in (f"/hls/{name}/720p/index.m3u8", f"/hls/{name}/720p/index.m3u8?_HLS_msn=3&_HLS_part=2"):
        response = client.get(url)
        assert response.status_code == 200 and response.get_data(as_text=True) == text, url
        assert response.mimetype == "application/vnd.apple.mpegurl" and response.headers["Cache-Control"] == "no-cache"
    master = client.get(f"/hls/{name}/master.m3u8")
    assert master.status_code == 200 and master.mimetype == "application/vnd.apple.mpegurl"
    assert master.headers["Cache-Control"] == "no-cache" and master.data == b"#EXTM3U\n720p/index.m3u8\n"
    for path, data in (("p3.2.m4s", b"newest-part"), ("s2.m4s", b"segment-2"), ("init-0.mp4", b"init")):
        with client.get(f"/hls/{name}/720p/{path}") as response:
            assert response.status_code == 200 and response.data == data, path
            assert response.mimetype == "video/mp4" and "immutable" in response.headers["Cache-Control"]
    assert time.monotonic() - started < 1  # nothing waited on the store

    started = time.monotonic()
    response = client.get(f"/hls/{name}/480p/index.m3u8")
    assert response.status_code == 503 and "storage is not answering" in response.get_data(as_text=True)
    assert time.monotonic() - started < 10  # two tries of LIVE_TIMEOUTS, not botocore's minutes

    proxy.restore()
    deadline = time.monotonic() + 10
    while client.get(f"/hls/{name}/480p/index.m3u8").status_code != 200:
        assert time.monotonic() < deadline, "the bucket was not read again once back"
        time.sleep(0.2)
    with app.app_context():
        db.engine.dispose()
