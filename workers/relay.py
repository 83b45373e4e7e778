"""The first pull of a live stream, kept from the moment the transcode job starts.

nginx-rtmp keeps no GOP cache: a player that connects after the publisher started gets frames
from the live edge and must wait for the next keyframe. Probing the stream on one connection
and then transcoding it on a second one therefore lost the probe's time plus up to a GOP, a few
seconds of every recording. The relay connects once, as early as it can (nginx-rtmp holds a
player that arrives before the publisher and then sends it everything from the first frame),
copies the stream as FLV, keeps the head for the probe and hands the whole of it, head first,
to the transcoding ffmpeg's stdin.

A live host's relay also spools what it copies to files in the session's work directory, and it
outlives the host: when the host is killed, the relay keeps pulling (from the nginx worker that
holds the publisher, even after a reload) and keeps spooling. The restarted host adopts it and
carries on from where the dead host's output ended (`PullRelay.adopt`), so a host crash loses
none of the broadcast.
"""
from __future__ import annotations

import json
import logging
import math
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

import ffmpeg

from app.media.ffmpeg_args import SPOOL_FILE, relay_args, spool_target, tee_safe
from app.media.probe import PACKET_ENTRIES, probe
from workers.lifetime import die_with_parent

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# The most a relay keeps for its next consumer while it has none: about 20 s of a 6 Mb/s stream.
GOP_KEPT = 16 * 1024 * 1024


# The spool: one FLV file per publisher GOP (cut at the first keyframe past SPOOL_CUT seconds,
# app.media.ffmpeg_args), flushed packet by packet, the newest SPOOL_KEEP files kept (at least
# that many seconds).
SPOOL_KEEP = 20
RELAY_FILE = "relay.json"  # the spooling relay's pid and pull, for the host that adopts it
FLV_HEADER = 13            # ffmpeg's FLV header (9 bytes) and PreviousTagSize0


def _pid_connected_to(pid: int, port: int) -> bool:
    """Whether process `pid` holds an established TCP socket to `port` (/proc/<pid>/fd, /proc/net/tcp*)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    # remote address is HEX_IP:HEX_PORT; state 01 is ESTABLISHED
                    if (fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port
                            and fields[9] in inodes):
                        return True
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return False


def _flv_tags(data: bytes | bytearray) -> Iterator[tuple[int, int, int, int]]:
    """(offset, kind, body offset, size) of each tag whose header is complete."""
    if len(data) < 13 or data[:3] != b"FLV":
        return
    offset = int.from_bytes(data[5:9], "big") + 4  # the header, then PreviousTagSize0
    while offset + 11 <= len(data):
        size = int.from_bytes(data[offset + 1:offset + 4], "big")
        yield offset, data[offset] & 0x1F, offset + 11, size
        offset += 11 + size + 4


def _is_setup(data: bytes | bytearray, kind: int, body: int) -> bool:
    """Metadata, or a codec's configuration (AVC/HEVC sequence header, AAC specific config)."""
    if kind == 18:
        return True
    if body + 2 > len(data):
        return False
    if kind == 9 and data[body] & 0x0F in (7, 12):
        return data[body + 1] == 0
    if kind == 8 and data[body] >> 4 == 10:
        return data[body + 1] == 0
    return False


def _is_keyframe(data: bytes | bytearray, kind: int, body: int) -> bool:
    if kind != 9 or body + 2 > len(data):
        return False
    frame_type, codec = data[body] >> 4, data[body] & 0x0F
    # AVC (7) and HEVC (12) carry a packet type: 1 is a coded frame, 0 the sequence header.
    return frame_type == 1 and (codec not in (7, 12) or data[body + 1] == 1)


def _is_sequence_end(data: bytes | bytearray, kind: int, body: int) -> bool:
    """An AVC/HEVC end-of-sequence tag: ffmpeg ends every FLV file (each spool file) with one."""
    return kind == 9 and body + 2 <= len(data) and data[body] & 0x0F in (7, 12) and data[body + 1] == 2


def flv_has_keyframe(data: bytes | bytearray) -> bool:
    """Whether an FLV byte stream holds a video keyframe (a coded frame, not the AVC header)."""
    return any(_is_keyframe(data, kind, body) for _, kind, body, _ in _flv_tags(data))


def flv_from_keyframe(data: bytes) -> bytes:
    """The FLV stream from its first video keyframe on: the header, the metadata and codec set-up
    tags, then everything from that keyframe (audio and frames before it are dropped). Unchanged
    when it holds no keyframe."""
    header_end = int.from_bytes(data[5:9], "big") + 4 if len(data) >= 13 and data[:3] == b"FLV" else 0
    kept = [data[:header_end]]
    for offset, kind, body, size in _flv_tags(data):
        if _is_keyframe(data, kind, body):
            return b"".join(kept) + data[offset:]
        if _is_setup(data, kind, body):
            kept.append(data[offset:body + size + 4])
    return data


def tag_time(tag: bytes | bytearray, offset: int = 0) -> float:
    """An FLV tag's timestamp in seconds (24 bits, then the extended high byte)."""
    return (int.from_bytes(tag[offset + 4:offset + 7], "big") | tag[offset + 7] << 24) / 1000


def first_keyframe_time(path: Path) -> float | None:
    """When the first video keyframe of an FLV file decodes (seconds), None if it has none yet."""
    try:
        with open(path, "rb") as file:
            data = file.read(1024 * 1024)
    except OSError:
        return None
    for offset, kind, body, _ in _flv_tags(data):
        if _is_keyframe(data, kind, body):
            return tag_time(data, offset)
    return None


def _spool_files(spool: Path) -> list[int]:
    """The numbers of the spool's files, oldest first."""
    try:
        names = os.listdir(spool)
    except OSError:
        return []
    return sorted(int(name[:-4]) for name in names if name.endswith(".flv") and name[:-4].isdigit())


def _runs_relay(pid: int, spool: Path) -> bool:
    """Whether `pid` is a relay ffmpeg spooling into `spool` (not a process that took its pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0")
    except OSError:
        return False
    return bool(args) and os.path.basename(args[0]) == b"ffmpeg" and any(
        arg.endswith(spool_target(spool).encode()) for arg in args)


def _spooling(spool: Path) -> tuple[int, str] | None:
    """(pid, pull URL) of the relay that spools into `spool`, if one runs."""
    try:
        info = json.loads((spool / RELAY_FILE).read_text())
        pid, pull = int(info["pid"]), str(info["pull"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, pull) if _runs_relay(pid, spool) else None


def _stop_spooling(spool: Path, wait: float = 2.0) -> None:
    """Kill the relay spooling into `spool`, if any (a relay nobody adopted: two would write the
    same file names)."""
    found = _spooling(spool)
    if found is None:
        return
    pid = found[0]
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return
    deadline = time.monotonic() + wait
    while _runs_relay(pid, spool) and time.monotonic() < deadline:
        time.sleep(0.01)  # not our child: init reaps it


class _Pipe:
    """The relay ffmpeg's stdout."""

    def __init__(self, stdout: IO[bytes]) -> None:
        self.stdout = stdout

    def read(self, timeout: float | None) -> bytes | None:
        """What came within `timeout` seconds (None: wait for it): b"" for nothing yet, None once
        the relay has ended."""
        if timeout is not None:
            ready, _, _ = select.select([self.stdout], [], [], timeout)
            if not ready:
                return b""
        return os.read(self.stdout.fileno(), CHUNK) or None

    def close(self) -> None:
        self.stdout.close()


class SpoolTail:
    """A spool read as one FLV stream: from file `first` on, each next file without its FLV
    header, following the newest as the relay writes it (it flushes every packet). Ends when the
    relay is gone and everything it wrote has been read."""

    POLL = 0.01

    def __init__(self, spool: Path, first: int, running: Callable[[], bool]) -> None:
        self.spool, self.index, self.running = spool, first, running
        self.file: BinaryIO | None = None
        self.strip = 0  # header bytes still to drop from the file being read

    def read(self, timeout: float | None) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            chunk = self._read_once()
            if chunk is None or chunk:
                return chunk
            if deadline is not None and time.monotonic() >= deadline:
                return b""
            time.sleep(self.POLL if deadline is None else min(self.POLL, max(0.0, deadline - time.monotonic())))

    def _read_once(self) -> bytes | None:
        if self.file is None:
            try:
                # Kept open across reads (a reader follows a growing file); close() closes it.
                self.file = open(self.spool / SPOOL_FILE.format(self.index), "rb")  # noqa: SIM115 - see above
            except FileNotFoundError:
                return b"" if self.running() else None
        chunk = self.file.read(CHUNK)
        if chunk and self.strip:
            dropped = min(self.strip, len(chunk))
            chunk, self.strip = chunk[dropped:], self.strip - dropped
        if chunk:
            return chunk
        # The relay closes a file before it opens the next: once the next exists, this one is whole.
        if (self.spool / SPOOL_FILE.format(self.index + 1)).exists():
            rest = self.file.read()
            if rest and not self.strip:
                return rest
            self.file.close()
            self.file, self.index, self.strip = None, self.index + 1, FLV_HEADER
            return b""
        if self.running():
            return b""
        # The relay is gone, but it may have opened the next file since we looked: the next call
        # moves on to it. Only without one is this file's rest the end of the stream.
        if (self.spool / SPOOL_FILE.format(self.index + 1)).exists():
            return b""
        return self.file.read() or None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class PullRelay:
    """One ffmpeg copying the live stream to a pipe; `head()` reads its start, `feed()` pumps it
    into a consumer's stdin from a video keyframe, with the header and codec set-up first.

    The pull outlives its consumer: when an encoder dies, `detach()` and a later `feed()` start the
    next one at the next keyframe on the same connection. A new pull would land wherever the
    ingest server accepts it now: after an nginx reload that is the new worker, which does not
    hold the stream (nginx-rtmp keeps streams per worker), and the stream froze for good.

    With a `spool` directory it also outlives its host (see the module's docstring and `adopt`).
    """

    def __init__(self, pull_url: str, spool: Path | None = None) -> None:
        if spool is not None and not tee_safe(spool):
            log.warning("not spooling to %s (a character ffmpeg's tee output cannot take): a live "
                        "host killed will lose what its publisher sends until the next one pulls", spool)
            spool = None
        if spool is not None:
            _stop_spooling(spool)
            shutil.rmtree(spool, ignore_errors=True)
            spool.mkdir(parents=True)
        # A spooling relay is not killed with its host: that is what it is for.
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            relay_args(pull_url, spool), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=None if spool is not None else die_with_parent)
        if spool is not None:
            (spool / RELAY_FILE).write_text(json.dumps({"pid": self.process.pid, "pull": pull_url}))
        assert self.process.stdout is not None  # a pipe, asked for above
        self._begin(self.process.pid, spool, _Pipe(self.process.stdout))

    def _begin(self, pid: int, spool: Path | None, source: _Pipe | SpoolTail) -> None:
        self.pid, self.spool = pid, spool
        self._source = source
        self.buffer = bytearray()
        self.ended = False
        self.received_at: float | None = None  # when the ingest server last sent anything
        # The pump is handing data to its consumer (and may be waiting on it: see input_age).
        self._delivering = False
        # Called with the decode time (seconds) of the keyframe each consumer starts at.
        self.on_start: Callable[[float], None] | None = None
        # Called with every whole FLV tag pulled (the dashboard's input figures, on this thread).
        self.on_tag: Callable[[bytes], None] | None = None
        self._pump: threading.Thread | None = None
        self._lock = threading.Lock()
        self._sink: IO[bytes] | None = None
        self._sink_started = False
        self._header = b""
        # Tag kind -> its latest metadata or codec set-up tag, in the order they first came.
        self._setup: dict[int, bytes] = {}
        self._gop: list[bytes] = []  # tags from a keyframe on (see _keep)
        self._kept_bytes = 0
        self._pruned_at = 0.0

    @classmethod
    def adopt(cls, spool: Path, pull_url: str, resume_at: float | None) -> tuple[PullRelay, float] | None:
        """The spooling relay a killed host left running for `pull_url`, read from its spool from
        the last file whose first keyframe is at or before `resume_at` (the source time the
        dead host's output reached; None: unknown, the newest file). Returns the relay and the
        time of the keyframe it starts at, or None when there is no such relay."""
        found = _spooling(spool)
        if found is None or found[1] != pull_url:
            return None
        pid = found[0]
        keyframes = [(number, first_keyframe_time(spool / SPOOL_FILE.format(number)))
                     for number in _spool_files(spool)]
        starts = [(number, start) for number, start in keyframes if start is not None]
        if not starts:
            return None
        number, start = starts[-1]
        if resume_at is not None:
            number, start = next(((n, s) for n, s in reversed(starts) if s <= resume_at + 0.001), starts[0])
        relay = cls.__new__(cls)
        relay.process = None
        relay._begin(pid, spool, SpoolTail(spool, number, relay.running))
        return relay, start

    def running(self) -> bool:
        """Whether the relay's ffmpeg runs (ours, or the one we adopted)."""
        if self.process is not None:
            return self.process.poll() is None
        return _runs_relay(self.pid, self.spool) if self.spool is not None else False

    def connected(self, port: int, timeout: float = 1.0) -> bool:
        """Whether the relay's ffmpeg has a TCP connection up to the ingest server's `port` (read
        from /proc: ffmpeg says nothing until data flows). Waits up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            if _pid_connected_to(self.pid, port):
                return True
            time.sleep(0.02)
        return False

    def _read(self, timeout: float) -> bool:
        """Append what the relay has within `timeout` seconds; False once it has ended."""
        chunk = self._source.read(timeout)
        if chunk is None:
            self.ended = True
            return False
        if chunk:
            self.received_at = time.monotonic()
            self.buffer += chunk
        return True

    def input_age(self) -> float:
        """Seconds since the ingest server last sent anything (infinite: nothing yet); 0 while the
        pump waits on its consumer.

        The pump reads only as fast as its consumer takes (and the relay's ffmpeg, its tee held by
        the same pipe, with it): an encoder slow to read, starting up or catching up on a busy box,
        held it for seconds while the publisher streamed on. The reconciler, which after an nginx
        reload cannot see the publisher on the old worker, took that for a publisher gone and
        ended a healthy broadcast (a fault test in CI). While the pump waits with data in hand,
        what the ingest server sends cannot be seen: nothing is ended on that doubt (an encoder
        that hangs is the session runner's to restart, which frees the pump).
        """
        if self._delivering:
            return 0.0
        return math.inf if self.received_at is None else time.monotonic() - self.received_at

    def alive(self, within: float = 2.0) -> bool:
        """Whether the pull is up and media came within `within` seconds: worth keeping."""
        return not self.ended and self.running() and self.input_age() < within

    def head(self, *, after_keyframe: float = 0.3, size: int = 2 * 1024 * 1024,
             wait: float = 12.0, cancel: Callable[[], bool] | None = None) -> bytes:
        """The stream's first bytes, up to `after_keyframe` seconds past the first video keyframe
        (which a player joining mid-stream waits for) or `size` bytes. Waits up to `wait` seconds
        for that keyframe, or until `cancel()` says to stop; whatever came (perhaps nothing)."""
        deadline = time.monotonic() + wait
        keyframe_at = None
        while len(self.buffer) < size and not self.ended:
            if cancel is not None and keyframe_at is None and cancel():
                break
            now = time.monotonic()
            if keyframe_at is None and flv_has_keyframe(self.buffer):
                keyframe_at = now
            limit = keyframe_at + after_keyframe if keyframe_at is not None else deadline
            if now >= limit:
                break
            self._read(min(0.05, limit - now))
        return bytes(self.buffer)

    def probe(self, wait: float = 12.0, cancel: Callable[[], bool] | None = None) -> dict[str, Any] | None:
        """ffprobe's JSON for the head, read more if the first try is too short; None if the
        stream never came (within `wait` seconds, or before `cancel()`) or cannot be read."""
        for after in (0.3, 1.5):
            head = self.head(after_keyframe=after, wait=wait, cancel=cancel)
            if not head:
                return None
            try:
                info = probe("pipe:0", timeout=20, stdin=head, f="flv", v="error", show_entries=PACKET_ENTRIES)
            except ffmpeg.Error:
                info = {}
            if any(stream.get("codec_type") == "video" and stream.get("width")
                   for stream in info.get("streams", ())):
                return info
            if self.ended:
                return None
        return None

    def feed(self, sink: IO[bytes]) -> None:
        """Write the stream to `sink` (a consumer's stdin) from the next video keyframe (from the
        first one the relay read, the first time), with the header and codec set-up before it.
        Audio before that picture is dropped: it would make the encoder's first parts short and
        video-less. The sink is closed when the relay ends, so the consumer sees end of input."""
        with self._lock:
            self._sink, self._sink_started = sink, False
        if self._pump is None:
            self._pump = threading.Thread(target=self._run, daemon=True, name="pull-relay")
            self._pump.start()

    def detach(self) -> None:
        """The consumer is gone: keep pulling, dropping tags, until the next `feed()`."""
        with self._lock:
            sink, self._sink = self._sink, None
        _close(sink)

    def _run(self) -> None:
        data, self.buffer = self.buffer, bytearray()
        try:
            while True:
                self._delivering = True
                try:
                    self._deliver(data)
                finally:
                    self._delivering = False
                self._prune()
                chunk = self._source.read(None)
                if chunk is None:
                    break
                self.received_at = time.monotonic()
                data += chunk
        except (OSError, ValueError):
            pass  # we were stopped
        finally:
            self.ended = True
            self.detach()

    def _prune(self) -> None:
        """Delete spool files older than the newest SPOOL_KEEP (and than the one being read)."""
        if self.spool is None or time.monotonic() - self._pruned_at < 1.0:
            return
        self._pruned_at = time.monotonic()
        numbers = _spool_files(self.spool)
        oldest_kept = len(numbers) and numbers[-1] - SPOOL_KEEP
        if isinstance(self._source, SpoolTail):
            oldest_kept = min(oldest_kept, self._source.index - 1)
        for number in numbers:
            if number >= oldest_kept:
                break
            try:
                os.unlink(self.spool / SPOOL_FILE.format(number))
            except OSError:
                pass

    def _deliver(self, data: bytearray) -> None:
        """Hand every complete tag at the start of `data` on (and remove it)."""
        if not self._header:
            if len(data) < 13:
                return
            end = int.from_bytes(data[5:9], "big") + 4  # the header, then PreviousTagSize0
            self._header = bytes(data[:end])
            del data[:end]
        offset = 0
        while offset + 11 <= len(data):
            total = 11 + int.from_bytes(data[offset + 1:offset + 4], "big") + 4
            if offset + total > len(data):
                break
            self._tag(bytes(data[offset:offset + total]))
            offset += total
        del data[:offset]

    def _keep(self, tag: bytes, keyframe: bool) -> None:
        """Keep the tags since the newest keyframe; with no consumer, everything since the last
        keyframe it got (up to GOP_KEPT bytes), which the next consumer starts with."""
        if keyframe and (self._sink is not None or self._kept_bytes > GOP_KEPT):
            self._gop, self._kept_bytes = [], 0
        elif self._kept_bytes > GOP_KEPT:
            self._gop, self._kept_bytes = [], 0  # no keyframe for that long: start again at one
            return
        if self._gop or keyframe:
            self._gop.append(tag)
            self._kept_bytes += len(tag)

    def _tag(self, tag: bytes) -> None:
        if self.on_tag is not None:
            self.on_tag(tag)
        kind = tag[0] & 0x1F
        keyframe = _is_keyframe(tag, kind, 11)
        if _is_sequence_end(tag, kind, 11):
            return
        if _is_setup(tag, kind, 11):
            if self._setup.get(kind, b"")[11:] == tag[11:]:
                return  # the same set-up again (each spool file starts with it)
            self._setup[kind] = tag
        with self._lock:
            sink, start = self._sink, None
            if sink is not None and not self._sink_started and (self._gop or keyframe):
                # A consumer starts at the newest keyframe this relay has: this one, or the last
                # one before the previous consumer died, so that what it had not finished is
                # encoded again rather than lost.
                self._sink_started = True
                start = [self._header, *self._setup.values(), *self._gop]
                if self.on_start is not None:
                    self.on_start(tag_time(self._gop[0] if self._gop else tag))
            self._keep(tag, keyframe)
            if sink is None or not self._sink_started:
                return
            if start is not None:
                tag = b"".join([*start, tag])
        try:
            sink.write(tag)
        except (BrokenPipeError, OSError, ValueError):
            with self._lock:  # the consumer stopped: wait for the next one
                if self._sink is sink:
                    self._sink = None
            _close(sink)

    def stop(self) -> None:
        """Stop the relay's ffmpeg (ours or adopted) and delete its spool."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
        elif self.spool is not None:
            _stop_spooling(self.spool)
        if self._pump is not None:
            self._pump.join(timeout=5)
        self._source.close()
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)


def _close(sink: IO[bytes] | None) -> None:
    if sink is None:
        return
    try:
        sink.close()
    except OSError:
        pass
