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

An unreachable store (down, or accepting connections and never answering) loses nothing: a
queue tries a failed upload again with backoff until it is stored, and a scan that failed is
run again. Meanwhile the stream goes on from the disk, which this host's web reads first
(app.hls.services.FirstFound).
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..live.state import hls_root
from ..media.ffmpeg_args import PLAYLIST_NAME
from ..media.playlist import media_uris, parse_media
from ..metrics.registry import STORAGE_ERRORS
from .backends import BadKey, Storage, StoredObject, check_key

log = logging.getLogger(__name__)

LIVE_PREFIX = "hls/"
PLAYLIST_SUFFIX = ".m3u8"
SYNC_EVERY = 0.25  # seconds between DirectorySync scans
SMALL_FILE = 8 * 1024 * 1024  # files up to this size go up in one PUT from memory
# Bytes a MirrorQueue may hold for uploads still waiting (a store that is down or slow): past
# this, media is read back from disk when its turn comes instead of kept in memory.
QUEUED_BYTES_LIMIT = 64 * 1024 * 1024
# A failed upload (or DirectorySync scan) is tried again after RETRY_FIRST seconds, then after
# twice as long each time up to RETRY_MAX. Short: until a store that is back has been asked
# again, nginx serves viewers the stale live playlist the bucket still holds; and asking a store
# that is down once a second per rung costs it nothing.
RETRY_FIRST = 0.25
RETRY_MAX = 1.0
# An upload running longer than this means the store is not keeping up: a part's announcement
# then stops waiting for it (see MirrorQueue). A part takes milliseconds to store when all is well.
STALL_SECONDS = 1.0


def _temporary(path: Path) -> bool:
    """Files a writer has not finished: write_atomic's `.name.xxx.tmp`, ffmpeg's `name.tmp`."""
    return path.name.startswith(".") or path.name.endswith(".tmp")


class Mirror:
    """Puts files under `root` into `storage` at `prefix` + their path relative to `root`."""

    def __init__(self, storage: Storage, root: str | os.PathLike[str], prefix: str = LIVE_PREFIX) -> None:
        self.storage = storage
        self.root = Path(root).resolve()
        self.prefix = prefix

    def key(self, path: str | os.PathLike[str]) -> str:
        """The key of a file under the root; ValueError for a path outside it."""
        relative = Path(path).resolve().relative_to(self.root)
        return self.prefix + relative.as_posix()

    def put(self, path: str | os.PathLike[str], data: bytes | None = None) -> None:
        """Upload `path` (or `data`, the bytes just written there: a playlist that may be
        replaced again before a queued upload runs must go up as it was)."""
        key = self.key(path)
        if data is None and os.path.getsize(path) <= SMALL_FILE:
            data = Path(path).read_bytes()  # one PUT, without the transfer manager's threads
        if data is None:
            self.storage.put_file(key, path)
        else:
            self.storage.put_bytes(key, data)

    def remove(self, path: str | os.PathLike[str]) -> None:
        self.storage.delete(self.key(path))

    def then(self, callback: Callable[[], None]) -> None:
        """Run `callback` once what was put before is stored: at once, for a plain Mirror."""
        callback()

    def close(self, timeout: float = 10.0) -> None:
        """Nothing is ever pending in a plain Mirror."""


class MirrorQueue:
    """A Mirror's calls run in order on a thread of their own.

    An upload that fails (the store is down, or answers errors) is tried again, with backoff,
    until it is stored or no longer wanted. Nothing queued after it goes first, so the bucket
    never lists media it lacks, and nothing it should hold is lost to an outage. What is no
    longer wanted is skipped, so that a queue that fell behind catches up fast (and spends little
    of the CPU the encoder needs doing it): a playlist put when a newer put of the same playlist
    is already queued (only the newest matters), a media put whose file the packager has deleted
    since (an expired part), and then that file's removal (there is nothing to remove: media
    files are written once). The callbacks queued after a skipped playlist wait for the newer
    put, so a callback still never runs before a playlist listing what was queued ahead of it
    is stored. Once a failing store answers again, and after each upload until the backlog is
    gone, the newest live playlist (index.m3u8) and the queued media it names jump the rest of
    the backlog: the bucket's live edge is current again at once and stays current, and the older
    media (segments for the recording) follow, still before the recording list that names them.

    While the store is failing or stalled (an upload running over STALL_SECONDS), and until the
    queue has caught up again, `then` runs its callback at once instead of after the uploads
    before it. The part is on this host's disk, which this host's web reads first, and the
    requests held there for it must not wait out an outage; other hosts' webs cannot read the
    bucket meanwhile anyway, and a woken request that does not find its part yet waits for the
    next announcement.

    During an outage the queue grows by a few small tasks per part; the bytes it holds stay
    under QUEUED_BYTES_LIMIT (media past it is read back from disk when its turn comes). `max_lag`
    is the longest any task waited from being queued to being done, in seconds; `failures`
    counts failed attempts.
    """

    def __init__(self, mirror: Mirror, name: str = "mirror") -> None:
        self.mirror = mirror
        self.name = name
        self.done = 0
        self.failures = 0
        self.max_lag = 0.0
        # (kind, target: a Path, or the callback of a "call", data, when queued)
        self._tasks: collections.deque[tuple[str, Any, bytes | None, float]] = collections.deque()
        self._queued_bytes = 0
        self._pending_playlists: collections.Counter[Path] = collections.Counter()
        self._ready = threading.Condition()
        self._closing = False
        self._storing_since: float | None = None  # when the store call in progress began
        self._failing_since: float | None = None  # when the store began failing; None: it works
        self._behind = False  # failing or stalled since the queue last caught up
        self._never_stored: set[Path] = set()  # media skipped as gone, whose removal is queued
        self._recovered = False  # the store answers again after failing: see _live_edge_first
        self._thread = threading.Thread(target=self._run, name=f"mirror-{name}", daemon=True)
        self._thread.start()

    def put(self, path: str | os.PathLike[str], data: bytes | None = None) -> None:
        self._add("put", Path(path), data)

    def remove(self, path: str | os.PathLike[str]) -> None:
        self._add("remove", Path(path), None)

    def then(self, callback: Callable[[], None]) -> None:
        if self._add("call", callback, None):
            self._call(callback)

    @property
    def behind(self) -> bool:
        """Whether callbacks run at once, without waiting for the store (see the class)."""
        with self._ready:
            return self._is_behind()

    def _is_behind(self) -> bool:
        if not self._behind and self._storing_since is not None:
            self._behind = time.monotonic() - self._storing_since > STALL_SECONDS
        return self._behind

    def _add(self, kind: str, target: Path | Callable[[], None], data: bytes | None) -> bool:
        """Queue a task; True for a callback to run at once instead (the store is behind)."""
        with self._ready:
            if self._closing:
                raise RuntimeError(f"mirror queue {self.name} is closed")
            if kind == "call" and self._is_behind():
                return True
            if kind == "put" and isinstance(target, Path) and target.suffix == PLAYLIST_SUFFIX:
                self._pending_playlists[target] += 1
            elif data is not None:
                if self._queued_bytes + len(data) > QUEUED_BYTES_LIMIT:
                    data = None  # the file on disk holds the same bytes
                else:
                    self._queued_bytes += len(data)
            self._tasks.append((kind, target, data, time.monotonic()))
            self._ready.notify()
        return False

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
            if kind == "call":
                if skipped:
                    deferred.append(target)
                else:
                    self._call(target)
            elif superseded or not self._store(kind, target, data):
                if kind == "put" and self._replaced(target):
                    skipped.add(target)
            elif kind == "put" and target in skipped:
                skipped.discard(target)
                if not skipped:
                    for callback in deferred:
                        self._call(callback)
                    deferred = []
            self.max_lag = max(self.max_lag, time.monotonic() - queued)
            self.done += 1
            with self._ready:
                # Once the store answers again, and as long as the backlog lasts: each newer live
                # playlist, queued behind the backlog, would otherwise wait for all of it (viewers
                # then stay at the edge of the first jump until the backlog is gone).
                if self._recovered or (self._behind and self._failing_since is None and self._tasks):
                    self._recovered = False
                    self._live_edge_first()
                if not self._tasks and self._failing_since is None:
                    self._behind = False  # caught up: callbacks wait for the store again

    def _live_edge_first(self) -> None:
        """Move the newest put of each live playlist, and the queued media puts it names, to the
        front of the queue (in their order), dropping the older puts of that playlist."""
        tasks = list(self._tasks)
        newest = {task[1]: index for index, task in enumerate(tasks)
                  if task[0] == "put" and task[1].name == PLAYLIST_NAME and task[2] is not None}
        first: set[int] = set()
        for playlist, index in newest.items():
            text = (tasks[index][2] or b"").decode("utf-8", "replace")  # (kept only with data)
            named = {_local_name(playlist.parent, uri) for uri in playlist_media(text)}
            first.update(i for i, (kind, target, _, _) in enumerate(tasks[:index])
                         if kind == "put" and target in named)
            first.add(index)
            self._pending_playlists[playlist] = 1
        self._tasks = collections.deque(
            [tasks[i] for i in sorted(first)]
            + [task for i, task in enumerate(tasks) if i not in first
               and not (task[0] == "put" and task[1] in newest)])  # the older puts of those playlists

    def _call(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception as error:  # noqa: BLE001 - an announcement must not stop the uploads
            log.warning("mirror %s: a callback failed: %s", self.name, error)

    def _replaced(self, target: Path) -> bool:
        """Whether `target` is a playlist with a newer put queued."""
        with self._ready:
            return target.suffix == PLAYLIST_SUFFIX and self._pending_playlists[target] > 0

    def _wanted(self, kind: str, target: Path) -> bool:
        """Whether a failed put or remove is still worth another try."""
        if kind != "put":
            return True
        if target.suffix == PLAYLIST_SUFFIX:
            return not self._replaced(target)
        return target.exists()

    def _store(self, kind: str, target: Path, data: bytes | None) -> bool:
        """Put or remove, trying again with backoff while the store fails and it is still
        wanted. True once done; False when dropped (no longer wanted, or never storable)."""
        if kind == "remove" and target in self._never_stored:
            self._never_stored.discard(target)
            return True
        delay = RETRY_FIRST
        while True:
            if not self._wanted(kind, target):
                if kind == "put" and target.suffix != PLAYLIST_SUFFIX:
                    self._never_stored.add(target)
                return False
            with self._ready:
                self._storing_since = time.monotonic()
            failed = False
            try:
                if kind == "put":
                    self.mirror.put(target, data)
                else:
                    self.mirror.remove(target)
                self._stored()
                return True
            except ValueError as error:  # a bad key or a path outside the root: never storable
                log.error("mirror %s: %s of %s refused: %s", self.name, kind, target.name, error)
                return False
            except Exception as error:  # noqa: BLE001 - a store that is down, slow or refusing
                # A file deleted while it was read (an expired part) is no failure: dropped above.
                failed = not (isinstance(error, FileNotFoundError) and kind == "put" and not target.exists())
                if failed:
                    self._failed(kind, target, error)
            finally:
                with self._ready:
                    self._storing_since = None
            if failed:
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _failed(self, kind: str, target: Path, error: BaseException) -> None:
        self.failures += 1
        STORAGE_ERRORS.labels("mirror_put" if kind == "put" else "mirror_remove").inc()
        with self._ready:
            first = self._failing_since is None
            if first:
                self._failing_since = time.monotonic()
            self._behind = True
            queued = len(self._tasks)
        if first or self.failures % 100 == 0:
            log.warning("mirror %s: %s of %s failed (%d so far, %d queued): %s; trying again until "
                        "it is stored, and announcing parts without waiting for the store meanwhile",
                        self.name, kind, target.name, self.failures, queued, error)

    def _stored(self) -> None:
        with self._ready:
            since, self._failing_since = self._failing_since, None
            self._recovered = since is not None
            queued = len(self._tasks)
        if since is not None:
            log.info("mirror %s: the store answers again after %.1f s; %d uploads queued",
                        self.name, time.monotonic() - since, queued)

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued (for at most `timeout` seconds), then stop the thread."""
        close_all([self], timeout)

    def _stop_taking(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify()


def close_all(queues: Collection[MirrorQueue], timeout: float = 10.0) -> None:
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
    return list(media_uris(parse_media(text)))


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
    thread (stop runs a last one). A scan stops at its first failed upload and the next one
    tries again from there (a store that is down loses nothing that is still on disk); while
    scans fail, they come further apart (RETRY_FIRST doubling up to RETRY_MAX).
    """

    def __init__(self, mirror: Mirror, directory: str | os.PathLike[str], every: float = SYNC_EVERY,
                 skip: Iterable[str] = ()) -> None:
        self.mirror = mirror
        self.directory = Path(directory)
        self.every = every
        self.skip = set(skip)  # file names never uploaded (ffmpeg's raw master)
        self.failures = 0
        self._failing_since: float | None = None
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
        wait = self.every
        while not self._stopping.wait(wait):
            wait = self.every if self._sync_logged() else min(max(wait * 2, RETRY_FIRST), RETRY_MAX)

    def _sync_logged(self) -> bool:
        """One scan; False (and logged now and then) when it failed."""
        try:
            self.sync_once()
        except Exception as error:  # noqa: BLE001 - the next scan tries again
            self.failures += 1
            STORAGE_ERRORS.labels("mirror_scan").inc()
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("mirror of %s: scan failed (%d so far): %s", self.directory.name,
                            self.failures, error)
            return False
        if self._failing_since is not None:
            log.info("mirror of %s: the store answers again after %.1f s", self.directory.name,
                     time.monotonic() - self._failing_since)
            self._failing_since = None
        return True

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


def sync_directory(mirror: Mirror, directory: str | os.PathLike[str]) -> dict[str, int]:
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


def live_mirror(config: Mapping[str, Any]) -> Mirror | None:
    """The mirror of MEDIA_ROOT/hls into the configured storage (its live client, which fails
    fast: storage.LIVE_TIMEOUTS), or None when live HLS stays on disk only (STORAGE_BACKEND
    local: nginx serves the directory itself)."""
    if config.get("STORAGE_BACKEND", "local") != "s3":
        return None
    from .backends import live_storage

    return Mirror(live_storage(config), hls_root(config), LIVE_PREFIX)
