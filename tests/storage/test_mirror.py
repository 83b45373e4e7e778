"""Live HLS mirrored into object storage: the Mirror, its ordered per-rung queue, the directory
sync for classic HLS and the end-of-session sync, against a real S3 API on loopback (and the
local backend)."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.media.llhls import PLAYLIST, RECORDING, RenditionPackager, part_name, part_target_for, segment_name
from app.media.playlist import parse_media_playlist
from app.storage.atomic import write_atomic
from app.storage.backends import LocalStorage, S3Storage
from app.storage.mirror import (
    DirectorySync,
    Mirror,
    MirrorQueue,
    live_mirror,
    playlist_media,
    sync_directory,
)
from tests.conftest import wait_for
from tests.media.llhls_rules import check_playlist

NAME = "st-0123456789abcdef"
PART = part_target_for(10, 30)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "objects")
    server = request.getfixturevalue("s3_server")
    return S3Storage(request.getfixturevalue("s3_bucket"), endpoint_url=server.endpoint_url,
                     access_key=server.access_key, secret_key=server.secret_key)


@pytest.fixture
def s3(s3_server, s3_bucket) -> S3Storage:
    return S3Storage(s3_bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                     secret_key=s3_server.secret_key)


class Recorder:
    """A storage that logs every call in order (and can be held or made to fail) before passing it on."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[str, str, bytes | None]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.failing: set[str] = set()

    def _log(self, op: str, key: str, data: bytes | None = None) -> None:
        self.gate.wait(10)
        if key in self.failing:
            raise OSError(f"refused {key}")
        self.calls.append((op, key, data))

    def put_bytes(self, key, data, content_type=None):
        self._log("put", key, data)
        self.inner.put_bytes(key, data, content_type)

    def put_file(self, key, path, content_type=None):
        self._log("put", key, Path(path).read_bytes())
        self.inner.put_file(key, path, content_type)

    def delete(self, key):
        self._log("delete", key)
        self.inner.delete(key)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def assert_media_before_playlists(calls) -> None:
    """Replaying the calls: every playlist put names only keys already stored."""
    stored: set[str] = set()
    for op, key, data in calls:
        if op == "delete":
            stored.discard(key)
            continue
        if key.endswith(".m3u8") and not key.endswith("master.m3u8"):
            folder = key.rsplit("/", 1)[0]
            missing = [uri for uri in playlist_media(data.decode()) if f"{folder}/{uri}" not in stored]
            assert not missing, f"{key} was stored naming {missing} before they were"
        stored.add(key)


def test_mirror_puts_and_removes_at_the_matching_key(storage, tmp_path):
    root = tmp_path / "media" / "hls"
    mirror = Mirror(storage, root)
    part = root / NAME / "720p" / "p3.1.m4s"
    write_atomic(part, b"moof-mdat")
    mirror.put(part)
    assert storage.get_bytes(f"hls/{NAME}/720p/p3.1.m4s") == b"moof-mdat"
    playlist = root / NAME / "720p" / "index.m3u8"
    write_atomic(playlist, b"#EXTM3U\nnewer\n")
    mirror.put(playlist, b"#EXTM3U\nas written\n")  # the snapshot, not what the file holds now
    assert storage.get_bytes(f"hls/{NAME}/720p/index.m3u8") == b"#EXTM3U\nas written\n"
    part.unlink()
    mirror.remove(part)
    mirror.remove(part)  # twice is fine
    assert not storage.exists(f"hls/{NAME}/720p/p3.1.m4s")
    with pytest.raises(ValueError):
        mirror.put(tmp_path / "elsewhere.m4s")
    with pytest.raises(ValueError):
        mirror.key(root / ".." / "objects" / "x.jpg")


def test_live_mirror_only_with_s3(tmp_path, s3_config):
    assert live_mirror({"STORAGE_BACKEND": "local", "MEDIA_ROOT": str(tmp_path)}) is None
    mirror = live_mirror({**s3_config, "MEDIA_ROOT": str(tmp_path)})
    assert isinstance(mirror.storage, S3Storage) and mirror.root == (tmp_path / "hls").resolve()
    assert mirror.key(tmp_path / "hls" / NAME / "master.m3u8") == f"hls/{NAME}/master.m3u8"


def test_queue_keeps_order_and_runs_callbacks_once_earlier_uploads_are_stored(s3, tmp_path):
    recorder = Recorder(s3)
    queue = MirrorQueue(Mirror(recorder, tmp_path), "720p")
    seen = []
    try:
        for n in range(5):
            path = tmp_path / NAME / "720p" / f"p0.{n}.m4s"
            write_atomic(path, b"part%d" % n)
            queue.put(path, b"part%d" % n)
            queue.then(lambda n=n: seen.append((n, s3.exists(f"hls/{NAME}/720p/p0.{n}.m4s"))))
        queue.remove(tmp_path / NAME / "720p" / "p0.0.m4s")
    finally:
        queue.close()
    assert seen == [(n, True) for n in range(5)]
    assert [(op, key.rsplit("/", 1)[1]) for op, key, _ in recorder.calls] == \
        [("put", f"p0.{n}.m4s") for n in range(5)] + [("delete", "p0.0.m4s")]
    assert not s3.exists(f"hls/{NAME}/720p/p0.0.m4s") and queue.failures == 0
    with pytest.raises(RuntimeError):
        queue.put(tmp_path / NAME / "720p" / "late.m4s", b"x")


def test_queue_skips_playlists_a_newer_one_replaces_and_retries_failures(s3, tmp_path, monkeypatch):
    from app.storage import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "RETRY_FIRST", 0.05)
    recorder = Recorder(s3)
    queue = MirrorQueue(Mirror(recorder, tmp_path), "480p")
    rung = tmp_path / NAME / "480p"
    playlist = rung / "index.m3u8"
    for name, data in (("first.m4s", b"1"), ("broken.m4s", b"x"), ("after.m4s", b"2")):
        write_atomic(rung / name, data)
    woken = []
    recorder.gate.clear()  # the store hangs: everything below queues up behind the first put
    recorder.failing.add(f"hls/{NAME}/480p/broken.m4s")
    try:
        queue.put(rung / "first.m4s", b"1")
        for n in range(6):
            queue.put(playlist, b"#EXTM3U\n#v%d\n" % n)
            queue.then(lambda n=n: woken.append((n, s3.get_bytes(f"hls/{NAME}/480p/index.m3u8"))))
        queue.put(rung / "broken.m4s", b"x")
        queue.put(rung / "after.m4s", b"2")
        queue.put(playlist, b"#EXTM3U\nfirst.m4s\nbroken.m4s\nafter.m4s\n")
        assert queue.pending() >= 9
        time.sleep(0.2)
        recorder.gate.set()
        deadline = time.monotonic() + 5
        while queue.failures < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not s3.exists(f"hls/{NAME}/480p/after.m4s")  # nothing overtakes a failed upload
        recorder.failing.clear()
    finally:
        queue.close()
    puts = [key.rsplit("/", 1)[1] for op, key, _ in recorder.calls]
    assert puts == ["first.m4s", "broken.m4s", "after.m4s", "index.m3u8"]  # five stale playlists skipped
    assert s3.get_bytes(f"hls/{NAME}/480p/index.m3u8") == b"#EXTM3U\nfirst.m4s\nbroken.m4s\nafter.m4s\n"
    assert queue.failures >= 2 and queue.max_lag >= 0.2
    # The callbacks behind the skipped playlists ran, in order, once the newest was stored.
    assert woken == [(n, b"#EXTM3U\nfirst.m4s\nbroken.m4s\nafter.m4s\n") for n in range(6)]


@pytest.mark.outage
def test_a_stalled_store_bounds_the_queue_memory_and_closing(s3, tmp_path, monkeypatch):
    from app.storage import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "QUEUED_BYTES_LIMIT", 10)
    recorder = Recorder(s3)
    queues = [MirrorQueue(Mirror(recorder, tmp_path), rung) for rung in ("720p", "360p")]
    recorder.gate.clear()  # the store stops answering
    for queue in queues:
        for n in range(4):
            path = tmp_path / NAME / queue.name / f"p0.{n}.m4s"
            write_atomic(path, b"part-%d" % n)  # 6 bytes each: only the first is held in memory
            queue.put(path, b"part-%d" % n)
        assert queue._queued_bytes <= 10
    started = time.monotonic()
    mirror_module.close_all(queues, timeout=0.5)
    assert time.monotonic() - started < 1.5  # one timeout for all, not one each
    assert all(queue._thread.is_alive() for queue in queues)
    recorder.gate.set()  # the store is back: what was queued still goes up, from disk if need be
    for queue in queues:
        queue._thread.join(10)
        assert [s3.get_bytes(f"hls/{NAME}/{queue.name}/p0.{n}.m4s") for n in range(4)] == \
            [b"part-%d" % n for n in range(4)]
        assert queue._queued_bytes == 0


def test_a_failed_upload_is_retried_until_stored_and_parts_are_announced_meanwhile(s3, tmp_path, monkeypatch):
    """The store fails: the upload is tried again (nothing behind it goes first) until it is
    stored, callbacks stop waiting for the store meanwhile, and wait again once it caught up."""
    from app.storage import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "RETRY_FIRST", 0.05)
    recorder = Recorder(s3)
    queue = MirrorQueue(Mirror(recorder, tmp_path), "720p")
    rung = tmp_path / NAME / "720p"
    segment, playlist = rung / "s0.m4s", rung / "index.m3u8"
    write_atomic(segment, b"segment-0")
    recorder.failing.add(f"hls/{NAME}/720p/s0.m4s")
    announced = []
    try:
        queue.put(segment, b"segment-0")
        queue.put(playlist, b"#EXTM3U\ns0.m4s\n")
        deadline = time.monotonic() + 5
        while not queue.failures and time.monotonic() < deadline:
            time.sleep(0.01)
        queue.then(lambda: announced.append("during"))
        assert announced == ["during"] and queue.behind  # at once, not after the failing upload
        # An expired part deleted from disk while the store was failing is not tried forever.
        gone = rung / "p0.0.m4s"
        write_atomic(gone, b"part")
        queue.put(gone)
        gone.unlink()
        queue.remove(gone)
        time.sleep(0.3)
        assert queue.failures >= 3 and not s3.exists(f"hls/{NAME}/720p/index.m3u8")
        recorder.failing.clear()  # the store is back
        deadline = time.monotonic() + 5
        while (queue.pending() or queue.behind) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not queue.behind
        recorder.gate.clear()  # caught up: a callback waits for what is queued before it again
        write_atomic(rung / "s1.m4s", b"segment-1")
        queue.put(rung / "s1.m4s", b"segment-1")
        queue.then(lambda: announced.append("after"))
        time.sleep(0.1)
        assert announced == ["during"]
        recorder.gate.set()
    finally:
        queue.close()
    assert announced == ["during", "after"]
    assert s3.get_bytes(f"hls/{NAME}/720p/s0.m4s") == b"segment-0"
    assert s3.get_bytes(f"hls/{NAME}/720p/index.m3u8") == b"#EXTM3U\ns0.m4s\n"
    assert_media_before_playlists(recorder.calls)
    assert not any(key.endswith("p0.0.m4s") for _, key, _ in recorder.calls)  # neither put nor removed


def store_away(recorder: Recorder, root: Path, names: tuple[str, ...]) -> tuple[MirrorQueue, Path]:
    """A 720p mirror queue whose store is away: `first.m4s` has failed once (and is retried until
    `recorder.failing` is cleared); `names` are written to the rung's directory for the test."""
    queue = MirrorQueue(Mirror(recorder, root), "720p")
    rung = root / NAME / "720p"
    for name in ("first.m4s", *names):
        write_atomic(rung / name, name.encode())
    recorder.failing.add(f"hls/{NAME}/720p/first.m4s")
    queue.put(rung / "first.m4s", b"first.m4s")
    wait_for(lambda: queue.failures, 5, "the first failure")
    return queue, rung


def test_after_an_outage_the_live_playlist_catches_up_before_the_rest(s3, tmp_path, monkeypatch):
    """Once the store answers again, the newest live playlist and the media it names go first (the
    bucket's live edge is current at once); older media follow, before the recording list."""
    from app.storage import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "RETRY_FIRST", 0.05)
    recorder = Recorder(s3)
    queue, rung = store_away(recorder, tmp_path, ("old.m4s", "recent.m4s"))
    try:
        queue.put(rung / "old.m4s", b"old.m4s")
        queue.put(rung / PLAYLIST, b"#EXTM3U\nfirst.m4s\nold.m4s\n")
        queue.put(rung / "recent.m4s", b"recent.m4s")
        queue.put(rung / RECORDING, b"#EXTM3U\nold.m4s\n")
        queue.put(rung / PLAYLIST, b"#EXTM3U\nfirst.m4s\nrecent.m4s\n")
        recorder.failing.clear()  # back
    finally:
        queue.close()
    assert [key.rsplit("/", 1)[1] for _, key, _ in recorder.calls] == \
        ["first.m4s", "recent.m4s", PLAYLIST, "old.m4s", RECORDING]
    assert s3.get_bytes(f"hls/{NAME}/720p/{PLAYLIST}") == b"#EXTM3U\nfirst.m4s\nrecent.m4s\n"
    assert_media_before_playlists(recorder.calls)


def test_while_the_backlog_drains_each_newer_live_playlist_goes_first(s3, tmp_path, monkeypatch):
    """After an outage the backlog takes a while; the live playlists packaged meanwhile (and their
    media) go before what is left of it, not after: viewers follow the live edge at once."""
    from app.storage import mirror as mirror_module

    monkeypatch.setattr(mirror_module, "RETRY_FIRST", 0.05)
    recorder = Recorder(s3)
    log = recorder._log

    def slow(op, key, data=None):  # 30 ms an upload: the backlog below takes about 1 s
        time.sleep(0.03)
        log(op, key, data)

    monkeypatch.setattr(recorder, "_log", slow)
    old = [f"old{n}.m4s" for n in range(30)]
    queue, rung = store_away(recorder, tmp_path, (*old, "newest.m4s"))
    try:
        for name in old:  # segments for the recording, not in the live playlist any more
            queue.put(rung / name, name.encode())
        queue.put(rung / RECORDING, ("#EXTM3U\n" + "\n".join(old) + "\n").encode())
        queue.put(rung / PLAYLIST, b"#EXTM3U\nfirst.m4s\n")
        recorder.failing.clear()  # back: the first jump
        wait_for(lambda: f"hls/{NAME}/720p/{PLAYLIST}" in [key for _, key, _ in recorder.calls], 5,
                 "the first jump's playlist")
        queue.put(rung / "newest.m4s", b"newest.m4s")  # packaged while the backlog drains
        queue.put(rung / PLAYLIST, b"#EXTM3U\nfirst.m4s\nnewest.m4s\n")
    finally:
        queue.close(timeout=30)
    keys = [key.rsplit("/", 1)[1] for _, key, _ in recorder.calls]
    second = len(keys) - 1 - keys[::-1].index(PLAYLIST)
    assert keys.index("newest.m4s") < second < keys.index(old[-1]), keys
    assert keys[-1] == RECORDING and s3.get_bytes(f"hls/{NAME}/720p/{PLAYLIST}").endswith(b"newest.m4s\n")
    assert_media_before_playlists(recorder.calls)


@pytest.mark.outage
@pytest.mark.parametrize("outage", ["go_silent", "refuse"])
def test_a_store_away_for_seconds_loses_nothing_and_parts_are_announced_throughout(
        proxied_s3, s3, tmp_path, outage):
    """LL-HLS through the live mirror (its fail-fast client) while S3 is a black hole or refuses
    connections: every part is announced within about STALL_SECONDS, and once the store is back
    the bucket holds exactly what the disk does, recording list and segments included."""
    server, proxy = proxied_s3
    root = tmp_path / "hls"
    directory = root / NAME / "720p"
    queue = MirrorQueue(live_mirror({**server.config(s3.bucket), "MEDIA_ROOT": str(tmp_path)}), "720p")
    announced: list[float] = []
    pack = RenditionPackager(directory, part_target=PART, segment_min=1.0, target_duration=1, window=4,
                             part_segments=2, on_part=lambda msn, part: announced.append(time.monotonic()),
                             mirror=queue, gop=1.0)
    pack.add_init(b"ftypmoov")

    def stream(gops: int) -> None:
        for _gop in range(gops):
            for n in range(3):
                pack.add_part(b"gop-part-%d" % n, 10 / 30, independent=n == 0)
                time.sleep(0.1)

    stream(2)
    getattr(proxy, outage)()
    went = time.monotonic()
    stream(12)  # about 4 s without a store
    proxy.restore()
    back = time.monotonic()
    stream(3)
    pack.finish()
    queue.close(timeout=30)
    during = [went] + [t for t in announced if went < t < back] + [back]
    assert max(b - a for a, b in zip(during, during[1:])) < 1.5
    local = {f"hls/{NAME}/720p/{p.name}": p.read_bytes() for p in directory.iterdir() if not p.name.startswith(".")}
    stored = {obj.key: s3.get_bytes(obj.key) for obj in s3.list(f"hls/{NAME}/")}
    assert stored == local
    assert stored[f"hls/{NAME}/720p/{RECORDING}"].decode().count("#EXTINF:") == 17
    assert queue.max_lag > 1.0  # the outage was felt (botocore's second try may hide the failure)


@pytest.mark.outage
def test_directory_sync_catches_up_after_a_silent_store(proxied_s3, s3, tmp_path, monkeypatch):
    """Classic HLS: scans fail while S3 is a black hole, and the first after it is back uploads
    every segment still named, media before the playlist."""
    from app.storage import backends as storage

    # Quicker to give up than the real client, for a quicker test: only the failing matters here.
    monkeypatch.setattr(storage, "LIVE_TIMEOUTS", storage.StoreTimeouts(connect=1, read=1, attempts=1))
    server, proxy = proxied_s3
    root = tmp_path / "hls"
    rung = root / NAME / "360p"
    sync = DirectorySync(live_mirror({**server.config(s3.bucket), "MEDIA_ROOT": str(tmp_path)}), root / NAME,
                         every=0.05)
    write_atomic(rung / "init-5-360p.mp4", b"init")
    write_atomic(rung / "seg_1.m4s", b"seg1")
    write_atomic(rung / "index.m3u8", classic_playlist(1, 1))
    sync.start()
    try:
        deadline = time.monotonic() + 5
        while not s3.exists(f"hls/{NAME}/360p/index.m3u8") and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.go_silent()
        for n in range(2, 6):
            write_atomic(rung / f"seg_{n}.m4s", b"seg%d" % n)
            write_atomic(rung / "index.m3u8", classic_playlist(1, n))
            time.sleep(0.5)
        deadline = time.monotonic() + 5
        while not sync.failures and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sync.failures >= 1
        assert s3.get_bytes(f"hls/{NAME}/360p/index.m3u8") == classic_playlist(1, 1)
        proxy.restore()
        deadline = time.monotonic() + 12
        while s3.get_bytes(f"hls/{NAME}/360p/index.m3u8") != classic_playlist(1, 5):
            assert time.monotonic() < deadline, "the sync did not catch up once the store was back"
            time.sleep(0.1)
    finally:
        sync.stop()
    assert [s3.get_bytes(f"hls/{NAME}/360p/seg_{n}.m4s") for n in range(1, 6)] == [b"seg%d" % n for n in range(1, 6)]


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


def test_packager_mirrors_every_file_and_announces_only_what_the_bucket_holds(s3, tmp_path):
    """LL-HLS through the queue: media before playlists, announcements after both, expired
    parts deleted from the bucket too, and the bucket's copy equal to the disk."""
    recorder = Recorder(s3)
    root = tmp_path / "hls"
    directory = root / NAME / "720p"
    queue = MirrorQueue(Mirror(recorder, root), "720p")
    clock = Clock()
    announced = []

    def on_part(msn, part):
        # What a held request woken now reads: a playlist that lists the part, and the part
        # (unless a queue that fell far behind the fake clock has expired it already).
        state = parse_media_playlist(s3.get_bytes(f"hls/{NAME}/720p/index.m3u8").decode())
        key = f"hls/{NAME}/720p/{part_name(msn, part)}"
        expired = ("delete", key, None) in recorder.calls
        announced.append((msn, part, state.has(msn, part) and (expired or s3.exists(key))))

    pack = RenditionPackager(directory, part_target=PART, segment_min=1.0, target_duration=1, window=4,
                             part_segments=2, clock=clock, on_part=on_part, mirror=queue, gop=1.0)
    pack.add_init(b"ftypmoov")
    for gop in range(8):
        for n in range(3):
            pack.add_part(b"gop%dpart%d" % (gop, n), 10 / 30, independent=n == 0)
            clock.now += timedelta(seconds=10 / 30)
            time.sleep(0.03)  # parts come at a pace (a tenth of real time) the queue keeps up with
    pack.finish()
    queue.close()
    assert len(announced) == 24 and all(ok for _, _, ok in announced), announced
    assert_media_before_playlists(recorder.calls)
    local = {f"hls/{NAME}/720p/{p.name}": p.read_bytes() for p in directory.iterdir() if not p.name.startswith(".")}
    stored = {obj.key: s3.get_bytes(obj.key) for obj in s3.list(f"hls/{NAME}/")}
    assert stored == local
    assert f"hls/{NAME}/720p/{part_name(0, 0)}" not in stored  # expired: gone from both
    assert any(op == "delete" for op, _, _ in recorder.calls)
    assert check_playlist(stored[f"hls/{NAME}/720p/{PLAYLIST}"].decode()).ended
    assert stored[f"hls/{NAME}/720p/{RECORDING}"].decode().count("#EXTINF:") == 8
    assert stored[f"hls/{NAME}/720p/{segment_name(2)}"] == b"gop2part0gop2part1gop2part2"


CLASSIC = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:{first}
#EXT-X-MAP:URI="init-5-360p.mp4"
{segments}"""


def classic_playlist(first: int, last: int) -> bytes:
    return CLASSIC.format(first=first, segments="".join(
        f"#EXTINF:1.000000,\nseg_{n}.m4s\n" for n in range(first, last + 1))).encode()


def test_directory_sync_follows_a_classic_writer(storage, tmp_path):
    root = tmp_path / "hls"
    out = root / NAME
    rung = out / "360p"
    recorder = Recorder(storage)
    sync = DirectorySync(Mirror(recorder, root), out, skip={"master.ffmpeg.m3u8"})
    assert sync.sync_once() == 0  # nothing written yet
    write_atomic(rung / "init-5-360p.mp4", b"init")
    for n in (50, 51):
        write_atomic(rung / f"seg_{n}.m4s", b"seg%d" % n)
    (rung / "seg_52.m4s").write_bytes(b"half-writ")  # ffmpeg is still writing it: not named yet
    (rung / "index.m3u8.tmp").write_bytes(b"#EXTM3U\n")
    write_atomic(rung / "index.m3u8", classic_playlist(50, 51))
    write_atomic(out / "master.ffmpeg.m3u8", b"#EXTM3U\nraw\n")
    write_atomic(out / "master.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n")
    assert sync.sync_once() == 5
    keys = [key.split(f"{NAME}/", 1)[1] for _, key, _ in recorder.calls]
    assert keys == ["360p/init-5-360p.mp4", "360p/seg_50.m4s", "360p/seg_51.m4s", "360p/index.m3u8", "master.m3u8"]
    assert sync.sync_once() == 0  # unchanged: nothing sent again

    (rung / "seg_52.m4s").write_bytes(b"seg52")
    write_atomic(rung / "seg_53.m4s", b"seg53")
    (rung / "seg_50.m4s").unlink()  # delete_segments
    write_atomic(rung / "index.m3u8", classic_playlist(51, 53))
    assert sync.sync_once() == 4
    assert_media_before_playlists(recorder.calls)
    assert storage.get_bytes(f"hls/{NAME}/360p/seg_52.m4s") == b"seg52"
    assert storage.get_bytes(f"hls/{NAME}/360p/index.m3u8") == classic_playlist(51, 53)
    assert not storage.exists(f"hls/{NAME}/360p/seg_50.m4s")
    assert not storage.exists(f"hls/{NAME}/master.ffmpeg.m3u8")
    assert not any(key.endswith(".tmp") for _, key, _ in recorder.calls)

    # A name no store takes (ffmpeg once wrote a literal "init-5-%v.mp4") is reported, and the
    # rest of the stream still goes up.
    write_atomic(rung / "init-6-%v.mp4", b"init6")
    write_atomic(rung / "seg_54.m4s", b"seg54")
    write_atomic(rung / "index.m3u8", classic_playlist(51, 54).replace(b"init-5-360p", b"init-6-%v"))
    assert sync.sync_once() == 2 and sync.sync_once() == 0
    assert storage.exists(f"hls/{NAME}/360p/seg_54.m4s") and sync.failures == 0


def test_directory_sync_thread_keeps_up_and_a_failing_store_only_logs(s3, tmp_path):
    root = tmp_path / "hls"
    rung = root / NAME / "360p"
    recorder = Recorder(s3)
    sync = DirectorySync(Mirror(recorder, root), root / NAME, every=0.05)
    sync.start()
    try:
        write_atomic(rung / "init-5-360p.mp4", b"init")
        write_atomic(rung / "seg_1.m4s", b"seg1")
        write_atomic(rung / "index.m3u8", classic_playlist(1, 1))
        deadline = time.monotonic() + 5
        while not s3.exists(f"hls/{NAME}/360p/index.m3u8") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s3.get_bytes(f"hls/{NAME}/360p/seg_1.m4s") == b"seg1"
        recorder.failing.add(f"hls/{NAME}/360p/seg_2.m4s")
        write_atomic(rung / "seg_2.m4s", b"seg2")
        write_atomic(rung / "index.m3u8", classic_playlist(1, 2))
        time.sleep(0.3)
        assert sync.failures >= 1  # logged and retried, never a dead thread
        assert s3.get_bytes(f"hls/{NAME}/360p/index.m3u8") == classic_playlist(1, 1)  # not before its segment
        recorder.failing.clear()
    finally:
        sync.stop()  # with a last scan
    assert s3.get_bytes(f"hls/{NAME}/360p/index.m3u8") == classic_playlist(1, 2)


def test_sync_directory_completes_the_bucket_copy_after_a_session(storage, tmp_path):
    root = tmp_path / "hls"
    out = root / NAME
    mirror = Mirror(storage, root)
    write_atomic(out / "720p" / "init-0.mp4", b"init")
    write_atomic(out / "720p" / "s0.m4s", b"seg0")
    write_atomic(out / "720p" / "s1.m4s", b"seg1")
    write_atomic(out / "720p" / "index.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n")
    write_atomic(out / "720p" / "recording.m3u8", b"#EXTM3U\ns0.m4s\ns1.m4s\n")
    write_atomic(out / "recording.json", b"{}")
    write_atomic(out / "master.m3u8", b"#EXTM3U\n")
    # What the live uploads left: s0 and the parts, an older playlist, a half-failed s1.
    for name, data in (("init-0.mp4", b"init"), ("s0.m4s", b"seg0"), ("s1.m4s", b"se"),
                       ("p1.0.m4s", b"part"), ("p1.1.m4s", b"part"), ("index.m3u8", b"#EXTM3U\nlive\n")):
        storage.put_bytes(f"hls/{NAME}/720p/{name}", data)
    storage.put_bytes("hls/st-ffffffffffffffff/720p/s0.m4s", b"another stream")  # left alone
    counts = sync_directory(mirror, out)
    assert counts == {"put": 5, "deleted": 2}  # s1, both playlists, recording.json, master
    stored = {obj.key.split(f"{NAME}/", 1)[1]: storage.get_bytes(obj.key) for obj in storage.list(f"hls/{NAME}/")}
    assert stored == {"720p/init-0.mp4": b"init", "720p/s0.m4s": b"seg0", "720p/s1.m4s": b"seg1",
                      "720p/index.m3u8": b"#EXTM3U\n#EXT-X-ENDLIST\n",
                      "720p/recording.m3u8": b"#EXTM3U\ns0.m4s\ns1.m4s\n",
                      "recording.json": b"{}", "master.m3u8": b"#EXTM3U\n"}
    assert storage.get_bytes("hls/st-ffffffffffffffff/720p/s0.m4s") == b"another stream"


@pytest.fixture
def s3_job_app(make_app, tmp_path, monkeypatch, s3_config):
    """An app (and the workers' context) storing objects in this test's bucket."""
    import uuid

    from rq import Queue

    from app.extensions import get_redis
    from workers import context

    queue = f"test-{uuid.uuid4().hex[:8]}"
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), RQ_QUEUE=queue, **s3_config)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app
        Queue(queue, connection=get_redis()).delete(delete_jobs=True)


def test_finish_session_completes_the_bucket_copy_or_deletes_it(s3_job_app, tmp_path):
    """A run that died mid-segment: finish_session ends its playlist, and the bucket gets the
    ended playlist, the recording list and recording.json, and loses the parts; with recording
    off, the session's keys go."""
    from app.extensions import db
    from app.live.state import hls_dir, new_internal_name
    from app.storage.backends import get_storage
    from tests.factories import make_live, make_user
    from workers.live.finish import finish_session

    storage = get_storage()
    config = s3_job_app.config
    session = make_live(make_user("bucketrec"))
    session.internal_name = new_internal_name()  # as the publish hook names it
    db.session.commit()
    out = hls_dir(config, session.internal_name)
    live = Mirror(storage, out.parent)
    queue = MirrorQueue(live, "720p")
    pack = RenditionPackager(out / "720p", part_target=PART, segment_min=1.0, target_duration=1, mirror=queue)
    pack.add_init(b"ftypmoov")
    for gop in range(3):
        for n in range(3):
            pack.add_part(b"g%dp%d" % (gop, n), 10 / 30, independent=n == 0)
    queue.close()  # the worker dies here: its playlist stays live, its parts stay stored
    prefix = f"hls/{session.internal_name}/"
    assert any(obj.key.startswith(prefix + "720p/p") for obj in storage.list(prefix))
    session.status = "ended"
    db.session.commit()
    assert finish_session(session.id) == "kept"
    stored = {obj.key[len(prefix):] for obj in storage.list(prefix)}
    assert {"recording.json", "720p/index.m3u8", "720p/recording.m3u8", "720p/init-0.mp4"} <= stored
    assert not [key for key in stored if key.startswith("720p/p")]
    assert check_playlist(storage.get_bytes(prefix + "720p/index.m3u8").decode()).ended
    assert {"720p/s0.m4s", "720p/s1.m4s", "720p/s2.m4s"} <= stored  # the open one closed from its parts
    assert storage.get_bytes(prefix + "recording.json") == (out / "recording.json").read_bytes()
    assert finish_session(session.id) == "kept"  # twice is fine

    user = make_user("bucketnorec")
    user.channel.record = False
    gone = make_live(user)
    gone.internal_name = new_internal_name()
    gone.status = "ended"
    db.session.commit()
    other = f"hls/{gone.internal_name}/"
    write_atomic(hls_dir(config, gone.internal_name) / "720p" / "s0.m4s", b"seg")
    storage.put_bytes(other + "720p/s0.m4s", b"seg")
    storage.put_bytes(other + "720p/index.m3u8", b"#EXTM3U\n")
    assert finish_session(gone.id) == "deleted"
    assert list(storage.list(other)) == [] and not hls_dir(config, gone.internal_name).exists()
    assert storage.exists(prefix + "recording.json")  # another session's keys stay
