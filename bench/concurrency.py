"""How many live streams one box carries at once, each playable, and at what CPU cost (issue 13).

How many publishers at once all play, how soon each is playable, which mode each gets, and what
a passthrough session costs in CPU.

Run from the project folder against the box `make run` started (site on :8080, RTMP on :1935,
the live host `python -m workers.live` running):

    .venv/bin/python bench/concurrency.py [-k 1,5,10 | --max 40] [--seconds 30]
                                          [--url http://127.0.0.1:8080] [--rtmp rtmp://127.0.0.1:1935/live]
    .venv/bin/python bench/concurrency.py --dry-run -k 5    # make the source file, print the plan

Each round starts K publishers at once, one per account bench_cc_1 ... bench_cc_K (made on first
use with `flask users create`; every run takes fresh keys with `flask channels key NAME --rotate`).
They all push the same pre-encoded 60 s 720p30 H.264/AAC FLV file (testsrc2 + sine, 2 s
keyframes, made once with ffmpeg and kept in the temp folder) with `-re -c copy`, looped so a slow
start never runs out of input. Per stream it measures, from the publisher's start:
- playable_s: the API (/api/v1/channels/<slug>) says live with an hls_url whose master playlist
  answers 200;
- first_part_s: the first variant's media playlist lists a part (or segment) that answers 200;
- mode: what the API says the stream got (ladder, reduced, passthrough; "unknown" without it);
- played: once every stream is ready, for --seconds all of them read their media playlist again
  and again (blocking reloads with _HLS_msn/_HLS_part when the playlist offers them, otherwise every
  0.5 s); a stream played when its live edge never stood still longer than 3 s, never went back,
  and every newly listed part and segment answered 200.
Over the same window it sums utime + stime from /proc of each stream's ffmpeg processes (those
whose command line names its internal name, from hls_url: the relay pulling it; and its encoder,
whose pid the live host's stats in Redis give, as in low latency its command line names only
pipes) and of the `python -m workers.live` process(es), the latter shared out over the round's
sessions. Redis and the site name (RQ_QUEUE) are the box's own, from .env. Processes that exit
between two one-second samples lose their last second.

With --max N the rounds are K = 1, 5, 10, 15, ... N and stop at the first K where a stream did
not play; with -k every K listed runs. Between rounds (and before the first) it stops the
publishers and waits until the API says each channel's session has ended (status "offline", not
"reconnecting"), so the next round opens new sessions instead of resuming these, and then until
the box's job queue is idle (the ended sessions' VOD jobs), so every round starts on a quiet box.
Prints a line per stream, a line per round (p50/p95 of playable_s and the CPU figures), and
`max_concurrent_live=N` last: the largest K where every stream played.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.registry import StartedJobRegistry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Config  # noqa: E402 - needs the sys.path line above
from app.live import hosts  # noqa: E402 - needs the sys.path line above
from app.live.state import RECONNECT_GRACE, LiveKeys  # noqa: E402 - needs the sys.path line above
from app.media.playlist import PlaylistState, attributes, parse_media_playlist  # noqa: E402 - needs the sys.path line above

USER_PREFIX = "bench_cc_"    # usernames allow letters, digits and underscores only
SOURCE_SECONDS = 60
SOURCE = Path(tempfile.gettempdir()) / "cascade-bench" / f"concurrency-720p30-{SOURCE_SECONDS}s.flv"
MAX_GAP = 3.0                # seconds the live edge may stand still and the stream still counts as playing
POLL_SECONDS = 0.5           # playlist polling when the server offers no blocking reload
API_POLL_SECONDS = 0.25
PLAYABLE_TIMEOUT = 60.0      # seconds from publisher start to a playable master
FIRST_PART_TIMEOUT = 30.0    # seconds from the playable master to a fetchable first part
OFFLINE_TIMEOUT = 90.0
JOBS_TIMEOUT = 300.0         # seconds to wait for the ended sessions' jobs (VODs) before a round
HELD_TIMEOUT = 20.0          # seconds a playlist request may take, blocking reloads included
MAX_STEP = 5                 # --max: K = 1, 5, 10, ...


def log(text: str) -> None:
    print(f"concurrency: {text}", file=sys.stderr, flush=True)


# --- pure parts (tests/live/test_bench_concurrency.py) --------------------------------------------

def publisher_counts(listed: str | None, most: int | None) -> list[int]:
    """The K of each round: the comma-separated list given, or 1, 5, 10, ... up to `most`."""
    if most is not None:
        if most < 1:
            raise ValueError("--max must be at least 1")
        counts = [1] + list(range(MAX_STEP, most + 1, MAX_STEP))
        if counts[-1] != most:
            counts.append(most)
        return counts
    counts = [int(part) for part in (listed or "").replace(" ", "").split(",") if part]
    if not counts or any(count < 1 for count in counts):
        raise ValueError("give publisher counts of 1 or more, like 1,5,10")
    return counts


def percentile(values: Iterable[float], share: float) -> float | None:
    """The value at `share` (0..1) of the sorted values (nearest rank, as bench/latency.py); None
    for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


# One reading of a media playlist: when (monotonic seconds), its newest segment and that segment's
# newest part (None: the segment is listed whole, without parts).
Observation = tuple[float, int, int | None]


def edge(msn: int, part: int | None) -> tuple[int, float]:
    """A live edge as something to compare: a segment listed whole comes after all its parts."""
    return (msn, float("inf") if part is None else part)


@dataclass(frozen=True)
class Progress:
    longest_gap: float   # the longest time the live edge stood still (to `until` at the end)
    advances: int        # readings that found a newer edge than the one before
    went_back: bool      # a reading found an older edge (the packager started over)


def playback_progress(observations: list[Observation], until: float | None = None) -> Progress:
    """How the live edge moved over a series of readings, oldest first. The gap runs from the
    reading that first showed an edge to the reading that first showed a newer one; the last gap
    runs on to `until` (the end of the watch) when given."""
    if not observations:
        return Progress(float("inf") if until is not None else 0.0, 0, False)
    since, msn, part = observations[0]
    best = edge(msn, part)
    longest, advances, went_back = 0.0, 0, False
    for moment, msn, part in observations[1:]:
        now = edge(msn, part)
        if now > best:
            longest = max(longest, moment - since)
            since, best = moment, now
            advances += 1
        elif now < best:
            went_back = True
    end = observations[-1][0] if until is None else max(until, observations[-1][0])
    return Progress(max(longest, end - since), advances, went_back)


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    utime: int       # clock ticks
    stime: int
    starttime: int   # clock ticks after boot: with the pid, names one process even if pids repeat

    @property
    def ticks(self) -> int:
        return self.utime + self.stime


def parse_stat(text: str) -> ProcStat:
    """/proc/<pid>/stat (proc(5)): the command name is in parentheses and may hold spaces and
    parentheses itself, so the fields are counted from its last ')'."""
    head, _, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = rest.split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
    return ProcStat(int(pid), comm, int(fields[11]), int(fields[12]), int(fields[19]))


def is_stream_ffmpeg(comm: str, argv: list[str], internal_name: str) -> bool:
    """An ffmpeg naming the stream: the relay pulling it, a classic HLS encoder writing its folder."""
    return comm == "ffmpeg" and any(internal_name in arg for arg in argv)


def is_live_host(argv: list[str]) -> bool:
    """`python -m workers.live` (not a shell a supervisor starts it through)."""
    return any(a == "-m" and b == "workers.live" for a, b in zip(argv, argv[1:]))


def first_variant(master: str) -> str | None:
    """The URI of a master playlist's first variant stream."""
    lines = [line.strip() for line in master.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF"):
            return next((uri for uri in lines[index + 1:] if uri and not uri.startswith("#")), None)
    return None


def listed_uris(media: str) -> list[str]:
    """What a media playlist lists for fetching, in order: the init section, parts and segments
    (not the preload hint: that part does not exist yet)."""
    uris = []
    for raw in media.splitlines():
        line = raw.strip()
        if line.startswith(("#EXT-X-MAP:", "#EXT-X-PART:")):
            if uri := attributes(line).get("URI"):
                uris.append(uri)
        elif line and not line.startswith("#"):
            uris.append(line)
    return uris


def first_media_uri(media: str) -> str | None:
    """The first part or segment a media playlist lists."""
    for raw in media.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-PART:"):
            return attributes(line).get("URI")
        if line and not line.startswith("#"):
            return line
    return None


def next_directive(state: PlaylistState) -> tuple[int, int]:
    """The _HLS_msn/_HLS_part of the part after the live edge (§6.2.5.2)."""
    if state.last_part is None:
        return state.last_msn + 1, 0
    return state.last_msn, state.last_part + 1


def internal_name_of(hls_url: str) -> str:
    """/hls/<internal name>/master.m3u8 -> the internal name."""
    parts = [part for part in hls_url.split("?")[0].split("/") if part]
    if len(parts) < 2 or parts[-1] != "master.m3u8":
        raise ValueError(f"not a master playlist URL: {hls_url!r}")
    return parts[-2]


def source_args(out: Path, seconds: int = SOURCE_SECONDS) -> list[str]:
    """ffmpeg making what OBS would send: x264 720p30 at a streaming bitrate, 2 s keyframes, AAC."""
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-b:v", "3000k", "-maxrate", "3000k", "-bufsize", "6000k",
            "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-f", "flv", str(out)]


def publisher_args(source: Path, rtmp: str, key: str) -> list[str]:
    # Looped: a round can outlast the file when the streams are slow to become playable.
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
            "-i", str(source), "-c", "copy", "-f", "flv", f"{rtmp.rstrip('/')}/{key}"]


# --- the box -------------------------------------------------------------------------------------

def source_file(path: Path = SOURCE) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".part.flv")
        log(f"making the source file {path}")
        subprocess.run(source_args(partial), check=True)
        partial.rename(path)
    return path


def flask(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def stream_key(name: str) -> str:
    """A fresh stream key for bench account `name`, making the account the first time."""
    rotated = flask("channels", "key", name, "--rotate")
    if rotated.returncode != 0 and "No channel or user" in rotated.stderr:
        made = flask("users", "create", name, "--password", secrets.token_urlsafe(18))
        if made.returncode != 0:
            sys.exit(f"cannot create {name}: {(made.stderr or made.stdout).strip()}")
        rotated = flask("channels", "key", name, "--rotate")
    if rotated.returncode != 0:
        sys.exit(f"cannot make a stream key for {name}: {rotated.stderr.strip()}")
    return rotated.stdout.strip().splitlines()[-1]


def fetch(http: requests.Session, url: str, timeout: float = 10.0) -> tuple[int | None, str]:
    """Status and body; None and the error's name when the request failed."""
    try:
        response = http.get(url, timeout=timeout)
        return response.status_code, response.text
    except requests.RequestException as error:
        return None, type(error).__name__


def fetch_status(http: requests.Session, url: str) -> int | None:
    try:
        with http.get(url, timeout=10, stream=True) as response:
            for _ in response.iter_content(64 * 1024):
                pass  # read it all: a part that breaks off half-way did not play
            return response.status_code
    except requests.RequestException:
        return None


def channel_status(http: requests.Session, site: str, slug: str) -> dict | None:
    status, body = fetch(http, f"{site}/api/v1/channels/{slug}", timeout=5)
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass
class Seen:
    """A process the meter watched: what it is, and its CPU ticks at its first and last scan."""

    comm: str
    argv: list[str]
    first: int
    last: int
    streams: set[str] = field(default_factory=set)  # internal names whose encoder it was


class CpuMeter:
    """CPU time of the live processes over a window, from one-second scans of /proc."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc
        self.seen: dict[tuple[int, int], Seen] = {}   # by (pid, starttime)
        self.started = self.ended = 0.0

    def sample(self, encoders: dict[int, str] | None = None) -> None:
        """Scan ffmpeg and python processes; `encoders` names the stream of encoder pids."""
        opening = not self.started
        encoders = encoders or {}
        for entry in self.proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = parse_stat((entry / "stat").read_text())
                if stat.comm != "ffmpeg" and stat.comm[:6] != "python":
                    continue
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except (OSError, ValueError, IndexError):
                continue  # gone between listing and reading
            # A process there at the first scan counts from then; one that appears later, from its start.
            seen = self.seen.setdefault((stat.pid, stat.starttime),
                                        Seen(stat.comm, argv, stat.ticks if opening else 0, 0))
            seen.last = stat.ticks
            if stat.pid in encoders:
                seen.streams.add(encoders[stat.pid])
        now = time.monotonic()
        self.started = self.started or now
        self.ended = now

    def cores(self, chosen: Callable[[Seen], bool]) -> float:
        """Cores the chosen processes used on average over the window."""
        elapsed = self.ended - self.started
        if elapsed <= 0:
            return 0.0
        ticks = sum(seen.last - seen.first for seen in self.seen.values() if chosen(seen))
        return ticks / os.sysconf("SC_CLK_TCK") / elapsed

    def found(self, chosen: Callable[[Seen], bool]) -> int:
        return sum(1 for seen in self.seen.values() if chosen(seen))


def encoder_pids(redis: Redis, keys: LiveKeys) -> dict[int, str]:
    """Each running session's encoder ffmpeg (pid -> internal name), from the live hosts' stats. In
    low latency the encoder reads the relay's pipe and writes the packager's, so its command line
    does not name the stream."""
    try:
        sessions = [session for host in hosts.live_hosts(redis, keys) for session in host.sessions]
        raws = redis.mget([keys.stats(session.session_id) for session in sessions]) if sessions else []
    except RedisError as error:
        log(f"cannot read the live hosts' stats ({type(error).__name__}); encoders are found by name only")
        return {}
    found = {}
    for session, raw in zip(sessions, raws):
        try:
            pid = json.loads(raw).get("ffmpeg_pid") if raw else None
        except ValueError:
            continue
        if isinstance(pid, int):
            found[pid] = session.internal_name
    return found


@dataclass
class Stream:
    """One publisher and what a viewer of its stream saw."""

    name: str
    key: str
    site: str
    rtmp: str
    log_path: Path
    process: subprocess.Popen | None = None
    started: float = 0.0
    mode: str = "unknown"
    internal_name: str | None = None
    media_url: str | None = None
    playable_s: float | None = None
    first_part_s: float | None = None
    problem: str | None = None
    observations: list[Observation] = field(default_factory=list)
    watch_until: float | None = None
    new_files: int = 0
    failed_files: list[str] = field(default_factory=list)
    cores: float | None = None   # its ffmpeg processes' CPU over the watch
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self, source: Path) -> None:
        self.started = time.monotonic()
        with self.log_path.open("wb") as errors:
            self.process = subprocess.Popen(publisher_args(source, self.rtmp, self.key),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=errors)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def publisher_gone(self) -> str | None:
        if self.process is None or self.process.poll() is None:
            return None
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return f"the publisher exited ({self.process.returncode}): {tail[0]}"

    @property
    def played(self) -> bool:
        if self.problem or self.failed_files or not self.observations:
            return False
        progress = self.progress
        return progress.advances > 0 and not progress.went_back and progress.longest_gap <= MAX_GAP

    @property
    def progress(self) -> Progress:
        return playback_progress(self.observations, self.watch_until)

    def run(self, go: threading.Event, seconds: float) -> None:
        with requests.Session() as http:
            try:
                self.wait_playable(http)
                self.wait_first_part(http)
            except Exception as error:  # noqa: BLE001 - a bench thread: say what broke, on the stream's line
                self.fail(f"{type(error).__name__}: {error}")
            finally:
                self.ready.set()
            go.wait()
            if self.problem is None:
                try:
                    self.watch(http, seconds)
                except Exception as error:  # noqa: BLE001 - likewise
                    self.fail(f"{type(error).__name__}: {error}")

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem

    def wait_playable(self, http: requests.Session) -> None:
        slug = self.name.lower()
        while time.monotonic() - self.started < PLAYABLE_TIMEOUT:
            if gone := self.publisher_gone():
                return self.fail(gone)
            status = channel_status(http, self.site, slug)
            if status and status.get("live") and status.get("hls_url"):
                master_url = urljoin(self.site + "/", status["hls_url"])
                code, master = fetch(http, master_url)
                variant = first_variant(master) if code == 200 else None
                if variant:
                    self.playable_s = time.monotonic() - self.started
                    self.mode = status.get("mode") or "unknown"
                    self.internal_name = internal_name_of(status["hls_url"])
                    self.media_url = urljoin(master_url, variant)
                    return None
            time.sleep(API_POLL_SECONDS)
        return self.fail(f"not playable within {PLAYABLE_TIMEOUT:.0f} s")

    def wait_first_part(self, http: requests.Session) -> None:
        if self.problem:
            return None
        deadline = time.monotonic() + FIRST_PART_TIMEOUT
        while time.monotonic() < deadline:
            code, media = fetch(http, self.media_url)
            first = first_media_uri(media) if code == 200 else None
            if first and fetch_status(http, urljoin(self.media_url, first)) == 200:
                self.first_part_s = time.monotonic() - self.started
                return None
            if gone := self.publisher_gone():
                return self.fail(gone)
            time.sleep(API_POLL_SECONDS)
        return self.fail(f"no part fetchable within {FIRST_PART_TIMEOUT:.0f} s of the master")

    def watch(self, http: requests.Session, seconds: float) -> None:
        """Follow the live edge for `seconds`, fetching every part and segment newly listed."""
        self.watch_until = time.monotonic() + seconds
        code, media = fetch(http, self.media_url)
        if code != 200:
            return self.fail(f"media playlist answered {code or media}")
        seen = set(listed_uris(media))  # the ones listed before the watch are not news
        state = parse_media_playlist(media)
        self.observations.append((time.monotonic(), state.last_msn, state.last_part))
        while (left := self.watch_until - time.monotonic()) > 0:
            if state.can_block_reload:
                msn, part = next_directive(state)
                url = f"{self.media_url}?_HLS_msn={msn}&_HLS_part={part}"
            else:
                time.sleep(min(POLL_SECONDS, left))
                url = self.media_url
            # A held request answers within three target durations (503 if the part never came).
            code, media = fetch(http, url, timeout=HELD_TIMEOUT)
            if code == 503:
                continue  # a held request that timed out: the edge stood still, which the gap shows
            if code != 200:
                self.fail(f"media playlist answered {code or media}")
                break
            state = parse_media_playlist(media)
            self.observations.append((time.monotonic(), state.last_msn, state.last_part))
            if state.ended:
                self.fail("the playlist ended")
                break
            for uri in listed_uris(media):
                if uri not in seen:
                    seen.add(uri)
                    self.new_files += 1
                    if fetch_status(http, urljoin(self.media_url, uri)) != 200:
                        self.failed_files.append(uri)
        return None


def session_ended(status: dict) -> bool | None:
    """Whether the channel has no open session: the API's stream `status` is "offline" (not
    "reconnecting": a publish then would resume that session). None when the API says only
    whether it is live."""
    if "status" not in status:
        return None
    return status["status"] == "offline"


def wait_sessions_ended(site: str, names: list[str], stopped: float | None = None,
                        timeout: float = OFFLINE_TIMEOUT) -> None:
    """Until every channel is offline with its session ended, so the next publish opens a new
    session. Where the API cannot tell, until it is not live and the reconnect grace since
    `stopped` has passed."""
    deadline = time.monotonic() + timeout
    told = True
    with requests.Session() as http:
        for name in names:
            while True:
                status = channel_status(http, site, name.lower())
                if status is not None and not status.get("live"):
                    ended = session_ended(status)
                    told = told and ended is not None
                    if ended is not False:
                        break
                if time.monotonic() > deadline:
                    sys.exit(f"{name} is still live (or {site} does not answer) after {timeout:.0f} s")
                time.sleep(1)
    if not told and stopped is not None:
        time.sleep(max(0.0, stopped + RECONNECT_GRACE.total_seconds() + 5 - time.monotonic()))


def wait_jobs_done(redis: Redis, queue_name: str, timeout: float = JOBS_TIMEOUT) -> None:
    """Until the box's RQ queue has nothing queued or running (the VOD jobs of the sessions that
    just ended), or `timeout` passes: a round measured while they run measures them too."""
    queue = Queue(queue_name, connection=redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if queue.count == 0 and StartedJobRegistry(queue=queue).count == 0:
                return
        except RedisError:
            return
        time.sleep(1)
    log(f"the job queue is still busy after {timeout:.0f} s; starting anyway")


@dataclass(frozen=True)
class Round:
    count: int
    streams: list[Stream]
    host_cores: float | None   # the live host processes' CPU over the window, None if none ran here

    @property
    def all_played(self) -> bool:
        return all(stream.played for stream in self.streams)


def run_round(count: int, keys: dict[str, str], args, source: Path, logs: Path,
              live: tuple[Redis, LiveKeys]) -> tuple[Round, float]:
    """K publishers at once, watched until the end; returns the round and when they stopped."""
    names = [f"{USER_PREFIX}{index}" for index in range(1, count + 1)]
    streams = [Stream(name, keys[name], args.url.rstrip("/"), args.rtmp, logs / f"{name}.log")
               for name in names]
    go = threading.Event()
    threads = [threading.Thread(target=stream.run, args=(go, args.seconds), daemon=True)
               for stream in streams]
    meter = CpuMeter()
    try:
        for stream in streams:
            stream.start(source)
        for thread in threads:
            thread.start()
        for stream in streams:
            stream.ready.wait(PLAYABLE_TIMEOUT + FIRST_PART_TIMEOUT + 10)
        ready = sum(1 for stream in streams if stream.problem is None)
        log(f"k={count}: {ready} of {count} streams playable; watching for {args.seconds} s")
        meter.sample(encoder_pids(*live))
        go.set()
        watch_end = time.monotonic() + args.seconds
        while time.monotonic() < watch_end:
            time.sleep(min(1.0, max(0.0, watch_end - time.monotonic())))
            meter.sample(encoder_pids(*live))
        for thread in threads:
            thread.join(timeout=HELD_TIMEOUT + 5)
    finally:
        go.set()
        for stream in streams:
            stream.stop()
        stopped = time.monotonic()
    for stream in streams:
        if stream.internal_name:
            name = stream.internal_name
            stream.cores = meter.cores(lambda seen, name=name: name in seen.streams
                                       or is_stream_ffmpeg(seen.comm, seen.argv, name))
    host = (meter.cores(lambda seen: is_live_host(seen.argv))
            if meter.found(lambda seen: is_live_host(seen.argv)) else None)
    return Round(count, streams, host), stopped


def number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def report(result: Round) -> None:
    for stream in result.streams:
        progress = stream.progress if stream.observations else None
        print(f"stream k={result.count} name={stream.name} mode={stream.mode} "
              f"playable_s={number(stream.playable_s)} first_part_s={number(stream.first_part_s)} "
              f"longest_gap_s={number(progress.longest_gap if progress else None)} "
              f"new_files={stream.new_files} failed_files={len(stream.failed_files)} "
              f"ffmpeg_cores={number(stream.cores, 3)} "
              f"played={'yes' if stream.played else 'no'}"
              + (f" problem={stream.problem!r}" if stream.problem else ""), flush=True)
    playable = [s.playable_s for s in result.streams if s.playable_s is not None]
    first_parts = [s.first_part_s for s in result.streams if s.first_part_s is not None]
    measured = [s.cores for s in result.streams if s.cores is not None]
    passthrough = [s.cores for s in result.streams if s.mode == "passthrough" and s.cores is not None]
    sessions = sum(1 for s in result.streams if s.internal_name)
    per_passthrough = sum(passthrough) / len(passthrough) if passthrough else None
    host_per_session = result.host_cores / sessions if result.host_cores is not None and sessions else None
    print(f"round k={result.count} played={sum(s.played for s in result.streams)}/{result.count} "
          f"playable_p50_s={number(percentile(playable, 0.5))} playable_p95_s={number(percentile(playable, 0.95))} "
          f"first_part_p50_s={number(percentile(first_parts, 0.5))} "
          f"first_part_p95_s={number(percentile(first_parts, 0.95))} "
          f"ffmpeg_cores_per_session={number(sum(measured) / len(measured) if measured else None, 3)} "
          f"passthrough_sessions={len(passthrough)} "
          f"ffmpeg_cores_per_passthrough_session={number(per_passthrough, 3)} "
          f"live_host_cores={number(result.host_cores, 3)} "
          f"live_host_cores_per_session={number(host_per_session, 3)}",
          flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    counts = parser.add_mutually_exclusive_group()
    counts.add_argument("-k", "--publishers", default="1,5,10",
                        help="publishers per round, comma-separated (default 1,5,10)")
    counts.add_argument("--max", type=int, default=None, metavar="N",
                        help="rounds of 1, 5, 10, ... N publishers, stopping at the first that fails")
    parser.add_argument("--seconds", type=int, default=30, help="how long to watch every stream (default 30)")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--rtmp", default="rtmp://127.0.0.1:1935/live")
    parser.add_argument("--dry-run", action="store_true",
                        help="make the source file and print the rounds and commands; publish nothing")
    args = parser.parse_args(argv)
    try:
        args.counts = publisher_counts(None if args.max is not None else args.publishers, args.max)
    except ValueError as error:
        parser.error(str(error))
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    source = source_file()
    if args.dry_run:
        print(f"source={source}")
        print(f"rounds={','.join(map(str, args.counts))}")
        print("publisher=" + " ".join(publisher_args(source, args.rtmp, "KEY")))
        print(f"accounts={USER_PREFIX}1..{USER_PREFIX}{max(args.counts)}")
        return
    site = args.url.rstrip("/")
    # The box's own settings (.env): where its live hosts publish their heartbeats and stats.
    live = (Redis.from_url(Config.REDIS_URL, socket_timeout=2), LiveKeys({"RQ_QUEUE": Config.RQ_QUEUE}))
    keys: dict[str, str] = {}
    best, stopped = 0, None
    with tempfile.TemporaryDirectory(prefix="cascade-bench-cc-") as logs:
        for count in args.counts:
            for index in range(1, count + 1):
                name = f"{USER_PREFIX}{index}"
                if name not in keys:
                    keys[name] = stream_key(name)
            if stopped is not None:
                log("waiting for the channels to go offline and their sessions to end")
            # Also before the first round: a session left reconnecting by an interrupted run.
            wait_sessions_ended(site, list(keys), stopped)
            wait_jobs_done(live[0], Config.RQ_QUEUE)
            log(f"k={count}: starting {count} publisher{'s' if count > 1 else ''}")
            result, stopped = run_round(count, keys, args, source, Path(logs), live)
            report(result)
            if result.all_played:
                best = max(best, count)
            elif args.max is not None:
                break
    print(f"max_concurrent_live={best}")


if __name__ == "__main__":
    main()
