"""Copies live HLS output from the worker's disk into object storage, so any host can serve it.

The transcode worker writes under MEDIA_ROOT/hls/<name>/ as always; with STORAGE_BACKEND=s3 a
Mirror puts each file at the matching key under `hls/` (`MEDIA_ROOT/hls/st-x/720p/p3.1.m4s` ->
`hls/st-x/720p/p3.1.m4s`) and deletes the key when the file goes. Three ways in:

- Mirror: put/remove at once, on the caller's thread.
- MirrorQueue: the same calls kept in order and run by one thread per rung, so the LL-HLS
  packager never waits on the store; `then(callback)` runs a callback (the Redis announcement
  of a part) only once everything queued before it is in the bucket.
- DirectorySync: for ffmpeg's own (classic) HLS output, which tells nobody what it wrote: a
  thread that rescans the directory every 0.25 s.

In every case media goes up before the playlist that names it, so a player (or a held request
woken by an announcement) never finds a playlist whose parts are not in the bucket yet.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from .playlist import attributes
from .storage import BadKey, Storage, StoredObject, check_key
from ..live.state import hls_root

log = logging.getLogger(__name__)

LIVE_PREFIX = "hls/"
PLAYLIST_SUFFIX = ".m3u8"
SYNC_EVERY = 0.25  # seconds between DirectorySync scans
SMALL_FILE = 8 * 1024 * 1024  # files up to this size go up in one PUT from memory
# Bytes a MirrorQueue may hold for uploads still waiting (a store that is down or slow): past
# this, media is read back from disk when its turn comes instead of kept in memory.
QUEUED_BYTES_LIMIT = 64 * 1024 * 1024


def _temporary(path: Path) -> bool:
    """Files a writer has not finished: write_atomic's `.name.xxx.tmp`, ffmpeg's `name.tmp`."""
    return path.name.startswith(".") or path.name.endswith(".tmp")


class Mirror:
    """Puts files under `root` into `storage` at `prefix` + their path relative to `root`."""

    def __init__(self, storage: Storage, root: str | os.PathLike, prefix: str = LIVE_PREFIX) -> None:
        self.storage = storage
        self.root = Path(root).resolve()
        self.prefix = prefix

    def key(self, path: str | os.PathLike) -> str:
        """The key of a file under the root; ValueError for a path outside it."""
        relative = Path(path).resolve().relative_to(self.root)
        return self.prefix + relative.as_posix()

    def put(self, path: str | os.PathLike, data: bytes | None = None) -> None:
        """Upload `path` (or `data`, the bytes just written there: a playlist that may be
        replaced again before a queued upload runs must go up as it was)."""
        key = self.key(path)
        if data is None and os.path.getsize(path) <= SMALL_FILE:
            data = Path(path).read_bytes()  # one PUT, without the transfer manager's threads
        if data is None:
            self.storage.put_file(key, path)
        else:
            self.storage.put_bytes(key, data)

    def remove(self, path: str | os.PathLike) -> None:
        self.storage.delete(self.key(path))

    def then(self, callback: Callable[[], None]) -> None:
        """Run `callback` once what was put before is stored: at once, for a plain Mirror."""
        callback()

    def close(self, timeout: float = 10.0) -> None:
        """Nothing is ever pending in a plain Mirror."""


class MirrorQueue:
    """A Mirror's calls run in order on a thread of their own.

    An upload that fails (the store is down after boto3's retries) is logged and skipped: the
    stream on disk goes on, and finish_session uploads whatever the bucket still lacks. A
    playlist put is skipped when a newer put of the same playlist is already queued (only the
    newest matters, and a queue that fell behind catches up faster); the callbacks queued after
    a skipped playlist then wait for that newer put, so a callback still never runs before a
    playlist listing what was queued ahead of it is stored. `max_lag` is the longest any task
    waited from being queued to being done, in seconds.
    """

    def __init__(self, mirror: Mirror, name: str = "mirror") -> None:
        self.mirror = mirror
        self.name = name
        self.done = 0
        self.failures = 0
        self.max_lag = 0.0
        self._tasks: collections.deque = collections.deque()
        self._queued_bytes = 0
        self._pending_playlists: collections.Counter = collections.Counter()
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"mirror-{name}", daemon=True)
        self._thread.start()

    def put(self, path: str | os.PathLike, data: bytes | None = None) -> None:
        self._add("put", Path(path), data)

    def remove(self, path: str | os.PathLike) -> None:
        self._add("remove", Path(path), None)

    def then(self, callback: Callable[[], None]) -> None:
        self._add("call", callback, None)

    def _add(self, kind: str, target, data) -> None:
        with self._ready:
            if self._closing:
                raise RuntimeError(f"mirror queue {self.name} is closed")
            if kind == "put" and target.suffix == PLAYLIST_SUFFIX:
                self._pending_playlists[target] += 1
            elif data is not None:
                if self._queued_bytes + len(data) > QUEUED_BYTES_LIMIT:
                    data = None  # the file on disk holds the same bytes
                else:
                    self._queued_bytes += len(data)
            self._tasks.append((kind, target, data, time.monotonic()))
            self._ready.notify()

    def pending(self) -> int:
        with self._ready:
            return len(self._tasks)

    def _run(self) -> None:
        skipped: set[Path] = set()  # playlists whose newer put is still queued
        deferred: list[Callable[[], None]] = []  # callbacks waiting for those puts
        while True:
            with self._ready:
                while not self._tasks and not self._closing:
                    self._ready.wait()
                if not self._tasks:
                    return
                kind, target, data, queued = self._tasks.popleft()
                superseded = False
                if kind == "put" and target.suffix == PLAYLIST_SUFFIX:
                    self._pending_playlists[target] -= 1
                    superseded = self._pending_playlists[target] > 0
                    if not superseded:
                        del self._pending_playlists[target]
                elif data is not None:
                    self._queued_bytes -= len(data)
            if superseded:
                skipped.add(target)
            elif kind == "call" and skipped:
                deferred.append(target)
            else:
                self._do(kind, target, data)
                if kind == "put" and target in skipped:
                    skipped.discard(target)
                    if not skipped:
                        for callback in deferred:
                            self._do("call", callback, None)
                        deferred = []
            self.max_lag = max(self.max_lag, time.monotonic() - queued)
            self.done += 1

    def _do(self, kind: str, target, data) -> None:
        try:
            if kind == "put":
                self.mirror.put(target, data)
            elif kind == "remove":
                self.mirror.remove(target)
            else:
                target()
        except Exception as error:  # noqa: BLE001 - a failed upload must not stop the stream
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("mirror %s: %s of %s failed (%d so far): %s", self.name, kind,
                            getattr(target, "name", "a callback"), self.failures, error)

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued (for at most `timeout` seconds), then stop the thread."""
        close_all([self], timeout)

    def _stop_taking(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify()


def close_all(queues, timeout: float = 10.0) -> None:
    """Close queues together: each finishes what it holds, all within one `timeout`. A queue
    still busy then (a store that stopped answering) is left to finish on its own thread."""
    for queue in queues:
        queue._stop_taking()
    deadline = time.monotonic() + timeout
    for queue in queues:
        queue._thread.join(max(0.0, deadline - time.monotonic()))
        if queue._thread.is_alive():
            log.warning("mirror %s: %d uploads still queued after %.0f s", queue.name, queue.pending(), timeout)


def playlist_media(text: str) -> list[str]:
    """The files a media playlist names, in order: init sections (EXT-X-MAP), segments and parts."""
    named = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("#EXT-X-MAP:", "#EXT-X-PART:")):
            uri = attributes(line).get("URI")
            if uri:
                named.append(uri)
        elif line and not line.startswith("#"):
            named.append(line)
    return named


def _local_name(base: Path, uri: str) -> Path | None:
    """A playlist's relative URI as a file in `base`, or None for anything that could leave it."""
    if "://" in uri or uri.startswith("/") or "?" in uri:
        return None
    parts = uri.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return base.joinpath(*parts)


class DirectorySync:
    """Keeps `hls/<name>/` in the bucket equal to a directory another program (ffmpeg) writes.

    Each scan reads every playlist once, uploads the files the playlists name that changed
    since their last upload (a file only counts once a playlist names it, when its writer is
    done with it), then the playlists that changed, then deletes the keys of files that are
    gone. `sync_once()` is one scan; `start()`/`stop()` run scans every `every` seconds on a
    thread (stop runs a last one).
    """

    def __init__(self, mirror: Mirror, directory: str | os.PathLike, every: float = SYNC_EVERY,
                 skip: Iterable[str] = ()) -> None:
        self.mirror = mirror
        self.directory = Path(directory)
        self.every = every
        self.skip = set(skip)  # file names never uploaded (ffmpeg's raw master)
        self.failures = 0
        self._uploaded: dict[Path, tuple[int, int] | bytes] = {}
        self._unstorable: set[Path] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"mirror-sync-{self.directory.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._sync_logged()

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            self._sync_logged()

    def _sync_logged(self) -> None:
        try:
            self.sync_once()
        except Exception as error:  # noqa: BLE001 - the next scan tries again
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("mirror of %s: scan failed (%d so far): %s", self.directory.name,
                            self.failures, error)

    def sync_once(self) -> int:
        """One scan; returns how many objects it put or deleted."""
        if not self.directory.is_dir():
            return 0
        playlists: dict[Path, bytes] = {}
        present: set[Path] = set()
        for path in sorted(self.directory.rglob("*")):
            if _temporary(path) or path.name in self.skip or not path.is_file():
                continue
            present.add(path)
            if path.suffix == PLAYLIST_SUFFIX:
                try:
                    playlists[path] = path.read_bytes()
                except FileNotFoundError:
                    present.discard(path)
        changes = 0
        for playlist, text in playlists.items():
            for uri in playlist_media(text.decode("utf-8", "replace")):
                media = _local_name(playlist.parent, uri)
                if media is None or media.suffix == PLAYLIST_SUFFIX:
                    continue  # a master names media playlists, which go up below
                try:
                    stat = media.stat()
                except FileNotFoundError:
                    continue  # named but gone (a slow scan); the next playlist drops it
                seen = (stat.st_mtime_ns, stat.st_size)
                if self._uploaded.get(media) != seen:
                    try:
                        self.mirror.put(media)
                    except BadKey as error:  # a name no store takes: say so once, sync the rest
                        if media not in self._unstorable:
                            self._unstorable.add(media)
                            log.error("mirror of %s: %s", self.directory.name, error)
                        continue
                    self._uploaded[media] = seen
                    changes += 1
        # Media playlists before the master that names them.
        for playlist, text in sorted(playlists.items(), key=lambda item: item[0].parent == self.directory):
            if self._uploaded.get(playlist) != text:
                self.mirror.put(playlist, text)
                self._uploaded[playlist] = text
                changes += 1
        for gone in [path for path in self._uploaded if path not in present]:
            if not gone.exists():
                self.mirror.remove(gone)
                changes += 1
            del self._uploaded[gone]
        return changes


def sync_directory(mirror: Mirror, directory: str | os.PathLike) -> dict[str, int]:
    """Make the bucket's copy of `directory` (under its key prefix) equal to the directory: put
    every file the bucket lacks or holds at another size (media first, then playlists, then
    everything else, such as recording.json), then delete the keys of files that are no longer
    on disk. Returns counts of `put` and `deleted`."""
    directory = Path(directory)
    prefix = mirror.key(directory).rstrip("/") + "/"
    stored: dict[str, StoredObject] = {obj.key: obj for obj in mirror.storage.list(prefix)}
    files = [p for p in sorted(directory.rglob("*")) if p.is_file() and not _temporary(p)]

    def order(path: Path) -> int:
        if path.suffix == PLAYLIST_SUFFIX:
            return 2 if path.parent == directory else 1  # the master after its media playlists
        return 3 if path.suffix == ".json" else 0

    put = 0
    local_keys = set()
    for path in sorted(files, key=order):
        key = mirror.key(path)
        try:
            check_key(key)
        except BadKey as error:  # cannot be stored; the rest of the recording still can
            log.error("sync of %s: %s", directory.name, error)
            continue
        local_keys.add(key)
        known = stored.get(key)
        # Playlists and manifests change without changing size; media never changes once named.
        if known is None or known.size != path.stat().st_size or order(path) > 0:
            mirror.put(path)
            put += 1
    gone = [key for key in stored if key not in local_keys]
    delete_keys = getattr(mirror.storage, "delete_keys", None)
    if delete_keys is not None:
        delete_keys(gone)
    else:
        for key in gone:
            mirror.storage.delete(key)
    return {"put": put, "deleted": len(gone)}


def live_mirror(config) -> Mirror | None:
    """The mirror of MEDIA_ROOT/hls into the configured storage, or None when live HLS stays on
    disk only (STORAGE_BACKEND local: nginx serves the directory itself)."""
    if config.get("STORAGE_BACKEND", "local") != "s3":
        return None
    from .storage import get_storage

    return Mirror(get_storage(config), hls_root(config), LIVE_PREFIX)
