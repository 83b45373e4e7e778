"""Answers LL-HLS delivery directives from the packager's files, holding requests until the part exists.

The packager (app.media.llhls) rewrites MEDIA_ROOT/hls/<name>/<rung>/index.m3u8 atomically
after every part and then publishes `<rung> <msn> <part>` on `cascade:hls:<name>`. A held
request waits on a per-request Event that one shared subscriber per process (PartListener)
sets when its stream's rung changes; it then re-reads the file. Without Redis the waiters
poll the file every 100 ms instead. Under gunicorn's gevent worker, threading is monkey-patched,
so the listener is a greenlet and each held request costs one greenlet and one Event.

Where the files are read from is a LiveFiles: DiskFiles (MEDIA_ROOT/hls, STORAGE_BACKEND=local)
or, with STORAGE_BACKEND=s3, FirstFound: the disk for the streams a live host on this machine
writes, StoredFiles (keys `hls/<name>/<rung>/...` in the bucket) for the others, so a web process
needs no disk shared with the worker, and the streams of its own host play on while the store is
unreachable. The worker announces a part once the part and its playlist are stored, or at once
while the store is failing (app.storage.mirror.MirrorQueue). A store that cannot be read gives a
503, never a 500.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, cast

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import TimeoutError as RedisTimeout
from redis.retry import Retry

from ..live.state import ANNOUNCE_PREFIX, INTERNAL_NAME, parse_announcement
from ..media.ffmpeg_args import MASTER_NAME as MASTER
from ..media.ffmpeg_args import PLAYLIST_NAME as PLAYLIST
from ..media.playlist import PlaylistState, delta_update, parse_media_playlist
from ..metrics.registry import STORAGE_ERRORS, observe_hold
from ..storage.backends import ObjectMissing
from ..storage.mirror import LIVE_PREFIX

log = logging.getLogger(__name__)

RUNG = re.compile(r"[0-9]{1,4}p|[va][0-9]{1,2}")  # 720p (the packager's), v0/a0 (spare)
# Every media file of a rendition, as the app may serve it when nginx cannot (the routes'
# `part_file`): LL-HLS parts p<msn>.<part>.m4s, segments s<msn>.m4s and init sections
# init-<msn>.mp4 (app.media.llhls); ffmpeg's classic seg_<n>.m4s and init-<n>-<rung>.mp4.
PART_FILE = re.compile(r"p[0-9]{1,12}\.[0-9]{1,6}\.m4s|s[0-9]{1,12}\.m4s|seg_[0-9]{1,15}\.m4s"
                       rf"|init-[0-9]{{1,15}}(?:-(?:{RUNG.pattern}))?\.mp4")
_DIRECTIVE_NUMBER = re.compile(r"[0-9]{1,12}")

# §6.2.5.2: a request the server cannot answer within three target durations gets 503.
TIMEOUT_TARGET_DURATIONS = 3
DEFAULT_TARGET_DURATION = 2.0  # only for a playlist that omits EXT-X-TARGETDURATION
POLL_SECONDS = 0.1  # how often waiters re-read the file while Redis is unreachable
RECONNECT_SECONDS = 1.0
# A Redis that accepts connections and never answers (a network black hole) raises nothing on a
# quiet subscription, so the listener pings it and gives it up after this long without a word.
PING_SECONDS = 0.5
SILENCE_SECONDS = 1.5
STORAGE_WARNING_EVERY = 10.0  # seconds between log lines about an unreadable store
# A rendition whose playlist on this host's disk was rewritten this recently is written here: a
# live packager rewrites it with every part, and an encoder restart pauses it for seconds, while
# a session taken over by another host (at least 15 s after this one stopped renewing its lease)
# leaves a copy here that no longer changes.
LOCAL_FRESH_SECONDS = 30.0
# A plain request for an LL-HLS media playlist (a player's first, or a standard-mode reload) is
# held until the next part is listed, for at most this many part targets, then answered as it is.
# A player takes its place behind the live edge from its first playlist, and counts the edge's age
# from when that playlist *arrived*: one read from the file at a random moment is already up to a
# part old (1/6 s on average with 1/3 s parts), and hls.js and Shaka never make that back by default.
FRESH_PART_TARGETS = 1.5
# ...and never longer than this: nginx gives up on the app after 0.8 s (@hls_fresh) and serves the file.
FRESH_MAX_SECONDS = 0.6


class BadDirective(ValueError):
    """A delivery directive the spec says to refuse with 400."""


@dataclass(frozen=True)
class Directives:
    msn: int | None = None
    part: int | None = None
    skip: bool = False


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


@dataclass(frozen=True)
class PartAnswer:
    """A hinted part: a file (`path`), stored bytes (`data`), or a refusal (`status`, `body`)."""
    status: int
    path: Path | None = None
    data: bytes | None = None
    body: str = ""


class StorageUnavailable(Exception):
    """The object store could not be read (down, misconfigured, refusing us)."""


UNAVAILABLE = "the stream's storage is not answering; try again shortly\n"
NO_PART = PartAnswer(404, body="no such part\n")


def parse_directives(args: Mapping[str, str]) -> Directives:
    """_HLS_msn, _HLS_part and _HLS_skip from a query string (§6.2.5)."""
    def number(key: str) -> int | None:
        value = args.get(key)
        if value is None:
            return None
        if not _DIRECTIVE_NUMBER.fullmatch(value):
            raise BadDirective(f"{key} must be a non-negative integer")
        return int(value)

    msn, part = number("_HLS_msn"), number("_HLS_part")
    if part is not None and msn is None:
        raise BadDirective("_HLS_part needs _HLS_msn")
    skip = args.get("_HLS_skip")
    if skip is not None and skip not in ("YES", "v2"):
        raise BadDirective("_HLS_skip must be YES or v2")
    # v2 would also skip EXT-X-DATERANGE tags; we never advertise CAN-SKIP-DATERANGES, so it
    # gets the same delta update as YES.
    return Directives(msn, part, skip is not None)


def well_formed(name: str, rung: str) -> bool:
    return bool(INTERNAL_NAME.fullmatch(name) and RUNG.fullmatch(rung))


def rendition_dir(hls_root: Path, name: str, rung: str) -> Path | None:
    """The rung's directory, only for a well-formed internal name and rung (never a path from input)."""
    if not well_formed(name, rung):
        return None
    return hls_root / name / rung


class PartListener:
    """One Redis pattern subscription per process, waking the requests held on each stream.

    `watch(name, rung)` hands a request an Event that is set whenever the packager announces a
    part of that rung, and also whenever the subscription is (re)established or lost, so a
    waiter always re-reads the file after anything it might have missed. `live` says whether
    announcements are arriving; while it is false, waiters poll.
    """

    def __init__(self, redis_url: str, pattern: str = ANNOUNCE_PREFIX + "*") -> None:
        self.redis_url = redis_url
        self.pattern = pattern
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[str, threading.Event]]] = {}
        # When each stream's waiters were last woken (time.monotonic()): a woken waiter's next
        # read must be no older than that (see SharedReads).
        self._woken: dict[str, float] = {}
        self._everyone_woken = 0.0
        self._live = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def live(self) -> bool:
        return self._live.is_set()

    def start(self) -> None:
        with self._lock:
            # A forked process inherits the object but not the thread: start its own.
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._stopping.clear()
            self._live.clear()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="hls-part-listener", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._live.clear()

    def wait_until_live(self, timeout: float) -> bool:
        return self._live.wait(timeout)

    @contextmanager
    def watch(self, name: str, rung: str) -> Iterator[threading.Event]:
        self.start()
        entry = (rung, threading.Event())
        with self._lock:
            self._waiters.setdefault(name, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                waiting = self._waiters.get(name)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiters[name]
                        self._woken.pop(name, None)

    def waiting(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._waiters.values())

    def announce(self, name: str, rung: str | None) -> None:
        """Wake the waiters of `name` (of one rung, or all of them when `rung` is None)."""
        with self._lock:
            events = [event for entry_rung, event in self._waiters.get(name, ())
                      if rung is None or entry_rung == rung]
            if events:
                self._woken[name] = time.monotonic()
        for event in events:
            event.set()

    def _wake_everyone(self) -> None:
        with self._lock:
            events = [event for entries in self._waiters.values() for _, event in entries]
            self._everyone_woken = time.monotonic()
        for event in events:
            event.set()

    def woken_at(self, name: str) -> float:
        """When `name`'s waiters were last woken (0.0 if never)."""
        with self._lock:
            return max(self._woken.get(name, 0.0), self._everyone_woken)

    def _deliver(self, message: dict) -> None:
        name = _text(message.get("channel"))[len(ANNOUNCE_PREFIX):]
        parsed = parse_announcement(_text(message.get("data")))
        rung = parsed[0] if parsed and RUNG.fullmatch(parsed[0]) else None
        self.announce(name, rung)

    def _run(self) -> None:
        outage_logged = False
        while not self._stopping.is_set():
            client = pubsub = None
            try:
                # No silent retries inside redis-py: while it would retry, waiters would believe
                # the subscription live and stop polling. A failure surfaces here at once instead.
                # The socket timeout bounds the connection's handshake, which has no other limit.
                client = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2,
                                        socket_keepalive=True, retry=Retry(NoBackoff(), 0))
                pubsub = client.pubsub()
                pubsub.psubscribe(self.pattern)
                heard = pinged = time.monotonic()
                while not self._stopping.is_set():
                    now = time.monotonic()
                    if now - heard > SILENCE_SECONDS:
                        raise RedisTimeout(f"Redis did not answer for {SILENCE_SECONDS:.1f} s")
                    if now - pinged >= PING_SECONDS:
                        pubsub.ping()
                        pinged = now
                    message = pubsub.get_message(timeout=PING_SECONDS)
                    if message is None:
                        continue
                    heard = time.monotonic()  # any message, a pong included, says Redis is there
                    if message["type"] == "psubscribe":
                        # Subscribed: from now on nothing is missed, so stop polling, and let
                        # every waiter re-read once for what happened before.
                        self._live.set()
                        self._wake_everyone()
                        if outage_logged:
                            log.info("HLS part announcements: Redis is back")
                            outage_logged = False
                    elif message["type"] == "pmessage":
                        self._deliver(message)
            except Exception as exc:  # noqa: BLE001 - any Redis failure means: poll, then retry
                if not outage_logged:
                    log.warning("HLS part announcements unavailable (%s: %s); held playlist "
                                "requests poll every %.0f ms until Redis is back",
                                type(exc).__name__, exc, POLL_SECONDS * 1000)
                    outage_logged = True
            finally:
                if self._live.is_set():
                    self._live.clear()
                    self._wake_everyone()  # so they switch to polling
                for closable in (pubsub, client):
                    try:
                        if closable is not None:
                            closable.close()
                    except Exception:  # noqa: BLE001 - already broken
                        pass
            self._stopping.wait(RECONNECT_SECONDS)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


class PlaylistFile:
    """A playlist on disk, parsed again only when the packager has replaced it."""

    # Hundreds of requests held on one rung wake together; they share one parse.
    _cache: ClassVar[dict[Path, tuple[tuple[int, int, int], str, PlaylistState]]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def read(cls, path: Path) -> tuple[str, PlaylistState]:
        """(text, state); FileNotFoundError when there is no playlist."""
        stat = path.stat()
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = cls._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        text = path.read_text(encoding="utf-8")
        state = parse_media_playlist(text)
        with cls._cache_lock:
            if len(cls._cache) > 4096:
                cls._cache.clear()
            cls._cache[path] = (key, text, state)
        return text, state


class LiveFiles(Protocol):
    """Where a live stream's playlists and parts are read from."""

    def playlist(self, name: str, rung: str, not_before: float) -> tuple[str, PlaylistState]:
        """(text, state) as of no earlier than `not_before` (time.monotonic()); FileNotFoundError
        without a playlist, StorageUnavailable when the store cannot say."""
        ...

    def part(self, name: str, rung: str, filename: str) -> Path | bytes | None:
        """A part's (or a segment's, or an init section's) file or bytes; None when it does not
        exist (yet)."""
        ...

    def master(self, name: str) -> str:
        """The stream's master playlist; FileNotFoundError without one, StorageUnavailable when
        the store cannot say."""
        ...


class DiskFiles:
    """MEDIA_ROOT/hls, where the worker on this host writes: every stream with
    STORAGE_BACKEND=local, this host's own with s3 (FirstFound)."""

    def __init__(self, hls_root: Path) -> None:
        self.hls_root = Path(hls_root)

    def playlist(self, name: str, rung: str, not_before: float = 0.0) -> tuple[str, PlaylistState]:
        directory = rendition_dir(self.hls_root, name, rung)
        if directory is None:
            raise FileNotFoundError(name)
        return PlaylistFile.read(directory / PLAYLIST)

    def part(self, name: str, rung: str, filename: str) -> Path | None:
        directory = rendition_dir(self.hls_root, name, rung)
        if directory is None or not PART_FILE.fullmatch(filename):
            return None
        path = directory / filename
        return path if path.is_file() else None

    def master(self, name: str) -> str:
        if not INTERNAL_NAME.fullmatch(name):
            raise FileNotFoundError(name)
        return (self.hls_root / name / MASTER).read_text(encoding="utf-8")

    def writes(self, name: str, rung: str | None = None) -> bool:
        """Whether a live host on this machine writes `name` (its rendition `rung`, or any): a
        playlist here rewritten within LOCAL_FRESH_SECONDS."""
        if not INTERNAL_NAME.fullmatch(name) or (rung is not None and not RUNG.fullmatch(rung)):
            return False
        stream = self.hls_root / name
        try:
            rungs = [rung] if rung is not None else [entry.name for entry in stream.iterdir()]
        except OSError:
            return False
        now = time.time()
        for found in rungs:
            try:
                if now - (stream / found / PLAYLIST).stat().st_mtime < LOCAL_FRESH_SECONDS:
                    return True
            except OSError:
                continue
        return False


class _Fetch:
    def __init__(self, started: float) -> None:
        self.started = started
        self.done = threading.Event()
        self.result: bytes | None = None
        self.error: BaseException | None = None


class SharedReads:
    """Concurrent reads of one key share a GET, as long as it started after they needed it.

    Hundreds of requests held on one rung wake at one announcement; each needs the playlist as
    of that moment, and a GET begun after it is exactly that. So the first starts one, and the
    rest wait for its answer instead of sending hundreds of their own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple, _Fetch] = {}

    def get(self, key: tuple, fetch: Callable[[], bytes], not_before: float) -> bytes:
        with self._lock:
            running = self._running.get(key)
            mine = running is None or running.started < not_before
            if mine:
                running = self._running[key] = _Fetch(time.monotonic())
        assert running is not None  # made just above when there was none
        if mine:
            try:
                running.result = fetch()
            except BaseException as error:  # noqa: BLE001 - handed to every reader sharing it
                running.error = error
            finally:
                with self._lock:
                    if self._running.get(key) is running:
                        del self._running[key]
                running.done.set()
        else:
            running.done.wait()
        if running.error is not None:
            raise running.error
        return cast(bytes, running.result)  # fetch() returned it


class StoredFiles:
    """Keys `hls/<name>/<rung>/...` in the configured object store (STORAGE_BACKEND=s3)."""

    _reads: ClassVar[SharedReads] = SharedReads()
    # Parsed playlists by key, reused while the stored text is unchanged.
    _parsed: ClassVar[dict[tuple, tuple[str, PlaylistState]]] = {}
    _parsed_lock: ClassVar[threading.Lock] = threading.Lock()
    _quiet_until: ClassVar[float] = 0.0

    def __init__(self, storage_factory: Callable[[], object], prefix: str = LIVE_PREFIX) -> None:
        self._storage_factory = storage_factory
        self.prefix = prefix

    def _storage(self):
        try:
            return self._storage_factory()
        except Exception as error:  # a misconfigured store (no bucket, bad backend)
            raise StorageUnavailable(str(error)) from error

    def _key(self, name: str, rung: str, filename: str) -> str | None:
        if not well_formed(name, rung):
            return None
        return f"{self.prefix}{name}/{rung}/{filename}"

    def _get(self, storage, key: str) -> bytes:
        try:
            return storage.get_bytes(key)
        except ObjectMissing:
            raise
        except Exception as error:  # botocore's errors, connection failures
            STORAGE_ERRORS.labels("hls_read").inc()
            now = time.monotonic()
            if now >= StoredFiles._quiet_until:  # an outage fails every request: log it now and then
                StoredFiles._quiet_until = now + STORAGE_WARNING_EVERY
                log.warning("HLS storage: reading %s failed (%s: %s); answering 503 (repeats not "
                            "logged for %.0f s)", key, type(error).__name__, error, STORAGE_WARNING_EVERY)
            raise StorageUnavailable(f"{type(error).__name__}") from error

    def playlist(self, name: str, rung: str, not_before: float = 0.0) -> tuple[str, PlaylistState]:
        key = self._key(name, rung, PLAYLIST)
        if key is None:
            raise FileNotFoundError(name)
        storage = self._storage()
        identity = (id(storage), key)
        data = self._reads.get(identity, lambda: self._get(storage, key), not_before)
        text = data.decode("utf-8", "replace")
        cached = self._parsed.get(identity)
        if cached is not None and cached[0] == text:
            return cached
        state = parse_media_playlist(text)
        with self._parsed_lock:
            if len(self._parsed) > 4096:
                self._parsed.clear()
            self._parsed[identity] = (text, state)
        return text, state

    def part(self, name: str, rung: str, filename: str) -> bytes | None:
        key = self._key(name, rung, filename)
        if key is None or not PART_FILE.fullmatch(filename):
            return None
        try:
            return self._get(self._storage(), key)
        except ObjectMissing:
            return None

    def master(self, name: str) -> str:
        if not INTERNAL_NAME.fullmatch(name):
            raise FileNotFoundError(name)
        return self._get(self._storage(), f"{self.prefix}{name}/{MASTER}").decode("utf-8", "replace")


class FirstFound:
    """STORAGE_BACKEND=s3: this host's disk for what a live host here writes, the bucket otherwise.

    The live host writes MEDIA_ROOT/hls before it stores anything, so for its own streams the
    disk is never behind the bucket, and it still answers when the store does not (down, or
    accepting connections and never answering): the host's viewers watch on through an outage.
    A rendition not rewritten here lately (DiskFiles.writes) is another host's, or one this host
    no longer writes: the bucket is the truth for it.
    """

    def __init__(self, disk: DiskFiles, stored: StoredFiles) -> None:
        self.disk = disk
        self.stored = stored

    def _files(self, name: str, rung: str | None = None) -> LiveFiles:
        return self.disk if self.disk.writes(name, rung) else self.stored

    def playlist(self, name: str, rung: str, not_before: float = 0.0) -> tuple[str, PlaylistState]:
        return self._files(name, rung).playlist(name, rung, not_before)

    def part(self, name: str, rung: str, filename: str) -> Path | bytes | None:
        return self._files(name, rung).part(name, rung, filename)

    def master(self, name: str) -> str:
        return self._files(name).master(name)


def live_files(config, hls_root: Path) -> LiveFiles:
    """The LiveFiles of this app's configuration."""
    disk = DiskFiles(hls_root)
    if config.get("STORAGE_BACKEND", "local") == "s3":
        from ..storage.backends import live_storage

        return FirstFound(disk, StoredFiles(lambda: live_storage(config)))
    return disk


def _files(found: LiveFiles | Path) -> LiveFiles:
    return DiskFiles(found) if isinstance(found, Path) else found


def _timeout(state: PlaylistState) -> float:
    return TIMEOUT_TARGET_DURATIONS * (state.target_duration or DEFAULT_TARGET_DURATION)


def _wait(wake: threading.Event, listener: PartListener, name: str, remaining: float) -> float:
    """Wait for a wake-up (or the next poll); returns the moment the next read must not predate."""
    woken = wake.wait(remaining if listener.live else min(remaining, POLL_SECONDS))
    wake.clear()
    # Woken by an announcement: anything read after it was made is news enough, so readers
    # woken together can share one read. Otherwise (polling, a timeout): a read from now on.
    return listener.woken_at(name) if woken else time.monotonic()


def _playlist_answer(text: str, state: PlaylistState, directives: Directives) -> Answer:
    if directives.skip and state.can_skip_until and not state.ended:
        return Answer(200, delta_update(text, state.can_skip_until))
    return Answer(200, text)


def answer_playlist(files: LiveFiles | Path, name: str, rung: str, directives: Directives,
                    listener: PartListener, clock: Callable[[], float] = time.monotonic) -> Answer:
    """The playlist for a request with delivery directives, held until it holds the part asked for;
    for a plain request, held until it lists its next part (_fresh_playlist).

    `files` is a LiveFiles (a Path means DiskFiles of that hls root). 404 without such a
    playlist; 400 for an _HLS_msn more than two segments ahead; 503 when the part has not
    appeared within three target durations, or when the store cannot be read. Directives are
    ignored once the playlist has ended (EXT-X-ENDLIST).
    """
    files = _files(files)
    if not well_formed(name, rung):
        return Answer(404, "no such playlist\n")
    try:
        return _answer_playlist(files, name, rung, directives, listener, clock)
    except FileNotFoundError:
        return Answer(404, "no such playlist\n")
    except StorageUnavailable:
        return Answer(503, UNAVAILABLE)


def answer_master(files: LiveFiles | Path, name: str) -> Answer:
    """The master playlist, for nginx when the bucket could not give it: 404 without one, 503
    when the store cannot be read."""
    files = _files(files)
    try:
        return Answer(200, files.master(name))
    except FileNotFoundError:
        return Answer(404, "no such playlist\n")
    except StorageUnavailable:
        return Answer(503, UNAVAILABLE)


def _answer_playlist(files: LiveFiles, name: str, rung: str, directives: Directives,
                     listener: PartListener, clock: Callable[[], float]) -> Answer:
    text, state = files.playlist(name, rung, time.monotonic())
    if directives.msn is None:
        return _fresh_playlist(files, name, rung, directives, listener, clock, text, state)
    if state.ended or state.has(directives.msn, directives.part):
        observe_hold("playlist", "ready", 0.0)
        return _playlist_answer(text, state, directives)
    if state.too_far_ahead(directives.msn):
        return Answer(400, f"_HLS_msn={directives.msn} is more than two segments past "
                           f"the last one ({state.last_msn})\n")
    held_since = time.monotonic()
    msn, part = directives.msn, directives.part
    text, state, found = _hold(files, name, rung, listener, clock, clock() + _timeout(state),
                               lambda state: state.ended or state.has(msn, part))
    if not found:
        observe_hold("playlist", "timeout", time.monotonic() - held_since)
        return Answer(503, "that part did not appear in time\n")
    observe_hold("playlist", "delivered", time.monotonic() - held_since)
    return _playlist_answer(text, state, directives)


def _hold(files: LiveFiles, name: str, rung: str, listener: PartListener, clock: Callable[[], float],
          deadline: float, done: Callable[[PlaylistState], bool]) -> tuple[str, PlaylistState, bool]:
    """Read the playlist until `done` says so or `deadline` (on `clock`) passes, woken by the part
    announcements: (text, state, whether `done`)."""
    with listener.watch(name, rung) as wake:
        not_before = time.monotonic()
        while True:
            # Read again after registering, so an announcement made just before cannot be lost.
            text, state = files.playlist(name, rung, not_before)
            if done(state):
                return text, state, True
            remaining = deadline - clock()
            if remaining <= 0:
                return text, state, False
            not_before = _wait(wake, listener, name, remaining)


def _fresh_playlist(files: LiveFiles, name: str, rung: str, directives: Directives,
                    listener: PartListener, clock: Callable[[], float], text: str,
                    state: PlaylistState) -> Answer:
    """A plain request: the playlist as soon as it lists its next part (FRESH_PART_TARGETS,
    FRESH_MAX_SECONDS).

    Only an LL-HLS playlist that is still growing parts waits; a classic one, an ended one or a
    packager that has stopped is answered as it stands (never a 503: the request asked for
    nothing in particular).
    """
    if state.ended or not state.can_block_reload or state.last_part is None or not state.part_target:
        observe_hold("playlist", "ready", 0.0)
        return _playlist_answer(text, state, directives)
    msn, part = state.last_msn, state.last_part + 1
    held_since = time.monotonic()
    text, state, _ = _hold(files, name, rung, listener, clock,
                           clock() + min(FRESH_PART_TARGETS * state.part_target, FRESH_MAX_SECONDS),
                           lambda state: state.ended or state.has(msn, part))
    observe_hold("playlist", "fresh", time.monotonic() - held_since)
    return _playlist_answer(text, state, directives)


def hinted_part(files: LiveFiles | Path, name: str, rung: str, filename: str, listener: PartListener,
                clock: Callable[[], float] = time.monotonic) -> PartAnswer:
    """The part once it exists, holding the request while it is the playlist's preload hint.

    nginx serves parts that exist; it hands the app only the ones it could not find. A part
    the playlist names in EXT-X-PRELOAD-HINT is held until written (§6.2.6), for at most three
    target durations; anything else, or a hint that never materialises, is a 404. A store
    that cannot be read is a 503.
    """
    files = _files(files)
    if not well_formed(name, rung) or not PART_FILE.fullmatch(filename):
        return NO_PART
    try:
        found = _hinted_part(files, name, rung, filename, listener, clock)
    except StorageUnavailable:
        return PartAnswer(503, body=UNAVAILABLE)
    if found is None:
        return NO_PART
    if isinstance(found, bytes):
        return PartAnswer(200, data=found)
    return PartAnswer(200, path=found)


def _hinted_part(files: LiveFiles, name: str, rung: str, filename: str, listener: PartListener,
                 clock: Callable[[], float]) -> Path | bytes | None:
    found = files.part(name, rung, filename)
    if found is not None:
        return found
    try:
        _, state = files.playlist(name, rung, time.monotonic())
    except FileNotFoundError:
        return None
    if state.ended or state.preload_hint != filename:
        # The packager may have written it (and moved its hint on) since the first look.
        return files.part(name, rung, filename)
    deadline = clock() + _timeout(state)
    held_since = time.monotonic()
    with listener.watch(name, rung) as wake:
        while True:
            found = files.part(name, rung, filename)
            if found is not None:
                observe_hold("part", "delivered", time.monotonic() - held_since)
                return found
            remaining = deadline - clock()
            if remaining <= 0:
                observe_hold("part", "timeout", time.monotonic() - held_since)
                return None
            _wait(wake, listener, name, remaining)
