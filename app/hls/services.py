"""Answers LL-HLS delivery directives from the packager's files, holding requests until the part exists.

The packager (app.media.llhls) rewrites MEDIA_ROOT/hls/<name>/<rung>/index.m3u8 atomically
after every part and then publishes `<rung> <msn> <part>` on `cascade:hls:<name>`. A held
request waits on a per-request Event that one shared subscriber per process (PartListener)
sets when its stream's rung changes; it then re-reads the file. Without Redis the waiters
poll the file every 100 ms instead. Under gunicorn's gevent worker, threading is monkey-patched,
so the listener is a greenlet and each held request costs one greenlet and one Event.
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
from typing import ClassVar

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..media.ffmpeg_args import PLAYLIST_NAME as PLAYLIST
from ..media.playlist import PlaylistState, delta_update, parse_media_playlist

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "cascade:hls:"
INTERNAL_NAME = re.compile(r"st-[0-9a-f]{16}")
RUNG = re.compile(r"[0-9]{1,4}p|[va][0-9]{1,2}")  # 720p (the packager's), v0/a0 (spare)
PART_FILE = re.compile(r"p[0-9]{1,12}\.[0-9]{1,6}\.m4s")
_DIRECTIVE_NUMBER = re.compile(r"[0-9]{1,12}")

# §6.2.5.2: a request the server cannot answer within three target durations gets 503.
TIMEOUT_TARGET_DURATIONS = 3
DEFAULT_TARGET_DURATION = 2.0  # only for a playlist that omits EXT-X-TARGETDURATION
POLL_SECONDS = 0.1  # how often waiters re-read the file while Redis is unreachable
RECONNECT_SECONDS = 1.0


def channel(name: str) -> str:
    """The Redis channel the packager announces `name`'s new parts on."""
    return f"{CHANNEL_PREFIX}{name}"


def announcement(rung: str, msn: int, part: int) -> str:
    """The message the packager publishes after writing a part (and the playlist that lists it)."""
    return f"{rung} {msn} {part}"


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


def rendition_dir(hls_root: Path, name: str, rung: str) -> Path | None:
    """The rung's directory, only for a well-formed internal name and rung (never a path from input)."""
    if not (INTERNAL_NAME.fullmatch(name) and RUNG.fullmatch(rung)):
        return None
    return hls_root / name / rung


class PartListener:
    """One Redis pattern subscription per process, waking the requests held on each stream.

    `watch(name, rung)` hands a request an Event that is set whenever the packager announces a
    part of that rung, and also whenever the subscription is (re)established or lost, so a
    waiter always re-reads the file after anything it might have missed. `live` says whether
    announcements are arriving; while it is false, waiters poll.
    """

    def __init__(self, redis_url: str, pattern: str = CHANNEL_PREFIX + "*") -> None:
        self.redis_url = redis_url
        self.pattern = pattern
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[str, threading.Event]]] = {}
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

    def waiting(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._waiters.values())

    def announce(self, name: str, rung: str | None) -> None:
        """Wake the waiters of `name` (of one rung, or all of them when `rung` is None)."""
        with self._lock:
            events = [event for entry_rung, event in self._waiters.get(name, ())
                      if rung is None or entry_rung == rung]
        for event in events:
            event.set()

    def _wake_everyone(self) -> None:
        with self._lock:
            events = [event for entries in self._waiters.values() for _, event in entries]
        for event in events:
            event.set()

    def _deliver(self, message: dict) -> None:
        name = _text(message.get("channel"))[len(CHANNEL_PREFIX):]
        fields = _text(message.get("data")).split()
        rung = fields[0] if len(fields) == 3 and RUNG.fullmatch(fields[0]) else None
        self.announce(name, rung)

    def _run(self) -> None:
        outage_logged = False
        while not self._stopping.is_set():
            client = pubsub = None
            try:
                # No silent retries inside redis-py: while it would retry, waiters would believe
                # the subscription live and stop polling. A failure surfaces here at once instead.
                client = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_keepalive=True,
                                        retry=Retry(NoBackoff(), 0))
                pubsub = client.pubsub()
                pubsub.psubscribe(self.pattern)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
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


def _timeout(state: PlaylistState) -> float:
    return TIMEOUT_TARGET_DURATIONS * (state.target_duration or DEFAULT_TARGET_DURATION)


def _wait(wake: threading.Event, listener: PartListener, remaining: float) -> None:
    wake.wait(remaining if listener.live else min(remaining, POLL_SECONDS))
    wake.clear()


def _playlist_answer(text: str, state: PlaylistState, directives: Directives) -> Answer:
    if directives.skip and state.can_skip_until and not state.ended:
        return Answer(200, delta_update(text, state.can_skip_until))
    return Answer(200, text)


def answer_playlist(hls_root: Path, name: str, rung: str, directives: Directives,
                    listener: PartListener, clock: Callable[[], float] = time.monotonic) -> Answer:
    """The playlist for a request with delivery directives, held until it holds the part asked for.

    404 without such a playlist; 400 for an _HLS_msn more than two segments ahead; 503 when
    the part has not appeared within three target durations. Directives are ignored once the
    playlist has ended (EXT-X-ENDLIST).
    """
    directory = rendition_dir(hls_root, name, rung)
    if directory is None:
        return Answer(404, "no such playlist\n")
    path = directory / PLAYLIST
    try:
        text, state = PlaylistFile.read(path)
    except FileNotFoundError:
        return Answer(404, "no such playlist\n")
    if state.ended or directives.msn is None or state.has(directives.msn, directives.part):
        return _playlist_answer(text, state, directives)
    if state.too_far_ahead(directives.msn):
        return Answer(400, f"_HLS_msn={directives.msn} is more than two segments past "
                           f"the last one ({state.last_msn})\n")
    deadline = clock() + _timeout(state)
    with listener.watch(name, rung) as wake:
        while True:
            # Checked again after registering, so an announcement made just before cannot be lost.
            try:
                text, state = PlaylistFile.read(path)
            except FileNotFoundError:
                return Answer(404, "no such playlist\n")
            if state.ended or state.has(directives.msn, directives.part):
                return _playlist_answer(text, state, directives)
            remaining = deadline - clock()
            if remaining <= 0:
                return Answer(503, "that part did not appear in time\n")
            _wait(wake, listener, remaining)


def hinted_part(hls_root: Path, name: str, rung: str, filename: str, listener: PartListener,
                clock: Callable[[], float] = time.monotonic) -> Path | None:
    """The part file once it exists, holding the request while it is the playlist's preload hint.

    nginx serves parts that exist; it hands the app only the ones it could not find. A part
    the playlist names in EXT-X-PRELOAD-HINT is held until written (§6.2.6), for at most three
    target durations; anything else, or a hint that never materialises, is None (404).
    """
    directory = rendition_dir(hls_root, name, rung)
    if directory is None or not PART_FILE.fullmatch(filename):
        return None
    path = directory / filename
    if path.is_file():
        return path
    try:
        _, state = PlaylistFile.read(directory / PLAYLIST)
    except FileNotFoundError:
        return None
    if state.ended or state.preload_hint != filename:
        # The packager may have written it (and moved its hint on) since the first look.
        return path if path.is_file() else None
    deadline = clock() + _timeout(state)
    with listener.watch(name, rung) as wake:
        while True:
            if path.is_file():
                return path
            remaining = deadline - clock()
            if remaining <= 0:
                return None
            _wait(wake, listener, remaining)
