"""The first pull of a live stream, kept from the moment the transcode job starts.

nginx-rtmp keeps no GOP cache: a player that connects after the publisher started gets frames
from the live edge and must wait for the next keyframe. Probing the stream on one connection
and then transcoding it on a second one therefore lost the probe's time plus up to a GOP, a few
seconds of every recording. The relay connects once, as early as it can (nginx-rtmp holds a
player that arrives before the publisher and then sends it everything from the first frame),
copies the stream as FLV, keeps the head for the probe and hands the whole of it, head first,
to the transcoding ffmpeg's stdin.
"""
from __future__ import annotations

import json
import math
import logging
import os
import select
import subprocess
import threading
import time
from typing import Callable

from app.media.probe import PROBE_ENTRIES
from workers.lifetime import die_with_parent

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# The most a relay keeps for its next consumer while it has none: about 20 s of a 6 Mb/s stream.
GOP_KEPT = 16 * 1024 * 1024


def relay_args(pull_url: str) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            # Give up when the ingest server sends nothing for 10 s (a publisher that never came).
            # ffmpeg writes nothing until it has seen a video keyframe (it needs the picture size):
            # joining mid-stream that is up to one GOP of the publisher's. Measuring the frame rate
            # as well (its default) held the first byte ~1.5 s longer; the probe measures it.
            "-rw_timeout", "10000000", "-fpsprobesize", "0", "-probesize", "262144",
            # The publisher's own timestamps, not restarted at zero by each pull: renditions added
            # to a running passthrough (workers.live.upgrade) pull again and must line up with it.
            "-copyts", "-i", pull_url,
            "-map", "0", "-c", "copy", "-f", "flv", "-flvflags", "no_duration_filesize", "pipe:1"]


def probe_args() -> list[str]:
    return ["ffprobe", "-v", "error", "-f", "flv", "-show_entries", PROBE_ENTRIES, "-of", "json",
            "-i", "pipe:0"]


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


def _flv_tags(data: bytes | bytearray):
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


class PullRelay:
    """One ffmpeg copying the live stream to a pipe; `head()` reads its start, `feed()` pumps it
    into a consumer's stdin from a video keyframe, with the header and codec set-up first.

    The pull outlives its consumer: when an encoder dies, `detach()` and a later `feed()` start the
    next one at the next keyframe on the same connection. A new pull would land wherever the
    ingest server accepts it now: after an nginx reload that is the new worker, which does not
    hold the stream (nginx-rtmp keeps streams per worker), and the stream froze for good."""

    def __init__(self, pull_url: str) -> None:
        self.process = subprocess.Popen(relay_args(pull_url), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=die_with_parent)
        self.buffer = bytearray()
        self.ended = False
        self.received_at: float | None = None  # when the ingest server last sent anything
        self._pump: threading.Thread | None = None
        self._lock = threading.Lock()
        self._sink = None
        self._sink_started = False
        self._header = b""
        # Tag kind -> its latest metadata or codec set-up tag, in the order they first came.
        self._setup: dict[int, bytes] = {}
        self._gop: list[bytes] = []  # tags from a keyframe on (see _keep)
        self._kept_bytes = 0

    def connected(self, port: int, timeout: float = 1.0) -> bool:
        """Whether the relay's ffmpeg has a TCP connection up to the ingest server's `port` (read
        from /proc: ffmpeg says nothing until data flows). Waits up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if _pid_connected_to(self.process.pid, port):
                return True
            time.sleep(0.02)
        return False

    def _read(self, timeout: float) -> bool:
        """Append what the relay has within `timeout` seconds; False once it has ended."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(self.process.stdout.fileno(), CHUNK)
        if not chunk:
            self.ended = True
            return False
        self.received_at = time.monotonic()
        self.buffer += chunk
        return True

    def input_age(self) -> float:
        """Seconds since the ingest server last sent anything (infinite: nothing yet)."""
        return math.inf if self.received_at is None else time.monotonic() - self.received_at

    def alive(self, within: float = 2.0) -> bool:
        """Whether the pull is up and media came within `within` seconds: worth keeping."""
        return not self.ended and self.process.poll() is None and self.input_age() < within

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

    def probe(self, wait: float = 12.0, cancel: Callable[[], bool] | None = None) -> dict | None:
        """ffprobe's JSON for the head, read more if the first try is too short; None if the
        stream never came (within `wait` seconds, or before `cancel()`) or cannot be read."""
        for after in (0.3, 1.5):
            head = self.head(after_keyframe=after, wait=wait, cancel=cancel)
            if not head:
                return None
            result = subprocess.run(probe_args(), input=head, capture_output=True, timeout=20)
            if result.returncode == 0:
                info = json.loads(result.stdout or b"{}")
                if any(stream.get("codec_type") == "video" and stream.get("width")
                       for stream in info.get("streams", ())):
                    return info
            if self.ended:
                return None
        return None

    def feed(self, sink) -> None:
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
                self._deliver(data)
                chunk = os.read(self.process.stdout.fileno(), CHUNK)
                if not chunk:
                    break
                self.received_at = time.monotonic()
                data += chunk
        except (OSError, ValueError):
            pass  # we were stopped
        finally:
            self.ended = True
            self.detach()

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
        kind = tag[0] & 0x1F
        keyframe = _is_keyframe(tag, kind, 11)
        if _is_setup(tag, kind, 11):
            self._setup[kind] = tag
        with self._lock:
            sink, start = self._sink, None
            if sink is not None and not self._sink_started and (self._gop or keyframe):
                # A consumer starts at the newest keyframe this relay has: this one, or the last
                # one before the previous consumer died, so that what it had not finished is
                # encoded again rather than lost.
                self._sink_started = True
                start = [self._header, *self._setup.values(), *self._gop]
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
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self._pump is not None:
            self._pump.join(timeout=5)
        self.process.stdout.close()


def _close(sink) -> None:
    if sink is None:
        return
    try:
        sink.close()
    except OSError:
        pass
