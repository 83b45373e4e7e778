"""The box as `make run` runs it — every Procfile process under supervisord, with its own Redis —
on random ports, with a creator live for the whole module (an OBS-like publisher that
reconnects by itself) and a viewer that measures what each fault costs."""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import COST_MODEL, ROOT, free_ports, require_tool

pytestmark = pytest.mark.faults

# Encoding costs fixed for the box: admission the same whatever else this machine is doing.


# The publisher's frames carry their number, so that what a fault cost the recording is counted in
# frames, not guessed from clocks: CODE_BITS white-or-black squares of CODE_SIZE pixels along the
# top of the 1280x720 picture, bit i set on frame n when bit i of n is.
CODE_BITS, CODE_SIZE, SOURCE_FPS, SOURCE_SECONDS = 10, 40, 30, 20


@pytest.fixture(scope="module")
def source_file(tmp_path_factory) -> Path:
    """A 720p30 H.264/AAC file with 1 s GOPs and numbered frames (see CODE_BITS); publishers push
    it with -c copy, looped."""
    path = tmp_path_factory.mktemp("source") / "720p.flv"
    code = [f"drawbox=x=0:y=0:w={CODE_BITS * CODE_SIZE}:h={CODE_SIZE}:color=black:t=fill"]
    code += [f"drawbox=x={bit * CODE_SIZE}:y=0:w={CODE_SIZE}:h={CODE_SIZE}:color=white:t=fill:"
             f"enable='mod(floor(round(t*{SOURCE_FPS})/{2 ** bit}),2)'" for bit in range(CODE_BITS)]
    subprocess.run([require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={SOURCE_FPS}," + ",".join(code),
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SOURCE_SECONDS),
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", str(SOURCE_FPS), "-b:v", "2000k",
                    "-c:a", "aac", str(path)], check=True, timeout=120)
    return path


def frame_numbers(rendition: Path, segments: list[tuple[str, str]]) -> list[int]:
    """The publisher's number of every frame in `segments` ((init, segment) names, in order), read
    from the squares along the top (scaled with the rendition)."""
    numbers: list[int] = []
    runs: list[tuple[str, list[str]]] = []
    for init, segment in segments:
        if not runs or runs[-1][0] != init:
            runs.append((init, []))
        runs[-1][1].append(segment)
    for init, names in runs:
        data = b"".join((rendition / name).read_bytes() for name in [init, *names])
        strip = (f"crop=iw*{CODE_BITS * CODE_SIZE}/1280:ih*{CODE_SIZE}/720:0:0,"
                 f"scale={CODE_BITS}:1:flags=area,format=gray")
        raw = subprocess.run([require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
                              "-vf", strip, "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"],
                             input=data, capture_output=True, check=True, timeout=120).stdout
        for offset in range(0, len(raw) - CODE_BITS + 1, CODE_BITS):
            numbers.append(sum(1 << bit for bit, value in enumerate(raw[offset:offset + CODE_BITS])
                               if value > 128))
    return numbers


def missing_and_repeated(numbers: list[int]) -> tuple[int, int]:
    """Frames missing between the first and the last of `numbers`, and frames seen twice, with the
    publisher's loop (SOURCE_SECONDS) unwrapped."""
    loop = SOURCE_FPS * SOURCE_SECONDS
    unwrapped, base = [], 0
    for previous, number in zip([None, *numbers], numbers):
        if previous is not None and number < previous - loop // 2:
            base += loop
        unwrapped.append(base + number)
    seen = set(unwrapped)
    return (max(unwrapped) - min(unwrapped) + 1 - len(seen)), len(unwrapped) - len(seen)


@dataclass
class Box:
    env: dict
    var: Path
    http_port: int
    rtmp_port: int
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ctl(self, *args: str) -> str:
        """supervisorctl against this box's supervisord."""
        result = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c",
                                 str(self.var / "supervisord.conf"), *args],
                                cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def pid(self, program: str) -> int:
        out = self.ctl("pid", program).strip()
        assert out.isdigit() and int(out) > 0, out
        return int(out)

    def log_text(self, tail: int = 6000) -> str:
        path = self.var / "log" / "box.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def get(self, path: str, timeout: float = 5) -> tuple[int | None, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, b""
        except OSError:
            return None, b""

    def api(self, slug: str) -> dict | None:
        code, body = self.get(f"/api/v1/channels/{slug}")
        return json.loads(body) if code == 200 else None


def _flask(env: dict, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def box_env() -> dict:
    """Extra environment for a module's box (its own database server, say)."""
    return {}


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb in a temporary directory, run as the postgres
    account), so a test can restart it without touching the one the rest of the suite uses."""

    def __init__(self) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not binaries:
            pytest.skip("PostgreSQL's server binaries are not installed (`make test` installs them)")
        self.bin = binaries[-1]
        # Outside pytest's temporary tree, which the postgres account may not enter.
        self.data = Path(tempfile.mkdtemp(prefix="cascade-faults-pg-"))
        (self.port,) = free_ports(1)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "cascade", "--no-sync")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-o",
                 f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{tool}: {result.stdout}{result.stderr}"

    @property
    def url(self) -> str:
        return f"postgresql://cascade@127.0.0.1:{self.port}/postgres"

    def restart(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-m", "fast", "restart", "-o",
                 f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture(scope="module")
def box(tmp_path_factory, box_env):
    require_tool("nginx")
    require_tool("redis-server")
    base = tmp_path_factory.mktemp("box")
    var = base / "var"
    (var / "log").mkdir(parents=True)
    http_port, rtmp_port, hook_port, web_port, redis_port = free_ports(5)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "CASCADE_"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{base / 'cascade.db'}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SECRET_KEY": secrets.token_urlsafe(32), "HOOK_SECRET": secrets.token_urlsafe(32),
        "HTTP_PORT": str(http_port), "RTMP_PORT": str(rtmp_port), "HOOK_PORT": str(hook_port),
        "WEB_PORT": str(web_port), "MEDIA_ROOT": str(base / "media"), "SECURE_COOKIES": "false",
        "PROXY_COUNT": "1", "PYTHONUNBUFFERED": "1", "RQ_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "INFO", "LIVE_HOST_CORES": "1", "LIVE_HOST_SHARE": "0.85",
        "LIVE_COST_MODEL": json.dumps(COST_MODEL), "RATELIMIT_ENABLED": "false",
    })
    env.update(box_env)
    _flask(env, "db", "upgrade")
    _flask(env, "nginx", "render", "--output", str(var / "nginx" / "nginx.conf"), "--prefix", str(var / "nginx"))
    made = Box(env, var, http_port, rtmp_port)
    # Every Procfile process, its own Redis included, under supervisord as `make run` runs them.
    conf = subprocess.run([sys.executable, "scripts/supervisord_conf.py", str(var), "--start",
                           "web,worker,live,ingest,redis"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    with open(var / "log" / "box.log", "ab") as out:
        made.process = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", conf],
                                        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: made.get("/healthz")[0] == 200, 60, "the box to answer /healthz",
                 lambda: made.log_text())
        yield made
    finally:
        made.process.send_signal(signal.SIGTERM)
        try:
            made.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(made.process.pid, signal.SIGKILL)
            made.process.wait()


@pytest.fixture(scope="module")
def site(box):
    """The box's database and Redis, in this process, to set up users and look inside."""
    from app import create_app
    from app.config import database_url
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(box.env["DATABASE_URL"]),
                      "REDIS_URL": box.env["REDIS_URL"],
                      "RQ_QUEUE": box.env["RQ_QUEUE"], "MEDIA_ROOT": box.env["MEDIA_ROOT"],
                      "HOOK_PORT": int(box.env["HOOK_PORT"]), "RTMP_PORT": box.rtmp_port,
                      "HOOK_SECRET": box.env["HOOK_SECRET"], "SOCKETIO_USE_QUEUE": False,
                      "RATELIMIT_ENABLED": False})
    yield app
    # Close what this process opened before the box (and its database server) goes: a pooled
    # connection left to the garbage collector warns in whichever test happens to run then.
    with app.app_context():
        db.engine.dispose()
        if client := app.extensions.get("cascade_redis"):
            client.close()
        if optional := app.extensions.get("cascade_optional_redis"):
            optional.client.close()


class Publisher:
    """OBS as a creator runs it: pushes the stream, and when the connection drops, tries again
    after RETRY seconds (OBS's default reconnect) until stopped."""

    RETRY = 2.0

    def __init__(self, box: Box, source: Path, key: str, log: Path) -> None:
        self.args = [require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                     "-stream_loop", "-1", "-i", str(source), "-c", "copy", "-f", "flv",
                     f"rtmp://127.0.0.1:{box.rtmp_port}/live/{key}"]
        self.log, self.stopping = log, threading.Event()
        self.process: subprocess.Popen | None = None
        self.reconnects = -1
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.reconnects += 1
            with open(self.log, "ab") as out:
                self.process = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
            self.process.wait()
            self.stopping.wait(self.RETRY)

    def stop(self) -> None:
        self.stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.thread.join(timeout=10)


@dataclass
class Viewer:
    """Polls the stream's first rendition through nginx, as a player reloads it, noting when a new
    part appeared: the longest wait for one is the viewing gap."""
    box: Box
    path: str
    seen: list = field(default_factory=list)       # (monotonic time, newest part URI)
    errors: list = field(default_factory=list)     # (monotonic time, status)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Viewer:
        threading.Thread(target=self.run, daemon=True).start()
        return self

    def run(self) -> None:
        while not self.stopping.is_set():
            code, body = self.box.get(self.path, timeout=3)
            now = time.monotonic()
            if code != 200:
                self.errors.append((now, code))
            else:
                newest = [line for line in body.decode().splitlines() if line.startswith("#EXT-X-PART:")]
                if newest and (not self.seen or self.seen[-1][1] != newest[-1]):
                    self.seen.append((now, newest[-1]))
            self.stopping.wait(0.1)

    def gap(self, since: float, until: float | None = None) -> float:
        """The longest time without a new part between `since` and `until` (now)."""
        until = time.monotonic() if until is None else until
        times = [since] + [t for t, _ in self.seen if since < t < until] + [until]
        return max(b - a for a, b in zip(times, times[1:]))

    def stop(self) -> None:
        self.stopping.set()


def recorded_seconds(box: Box, internal_name: str, rung: str) -> float:
    """What the recording of the stream's `rung` holds so far (its recording.m3u8's EXTINFs)."""
    path = Path(box.env["MEDIA_ROOT"]) / "hls" / internal_name / rung / "recording.m3u8"
    try:
        text = path.read_text()
    except OSError:
        return 0.0
    return sum(float(m) for m in re.findall(r"#EXTINF:([0-9.]+)", text))


class Recording:
    """Media time recorded against wall time, each read the moment a segment is added."""

    def __init__(self, box: Box, internal_name: str, rung: str) -> None:
        self.box, self.name, self.rung = box, internal_name, rung
        self.directory = Path(box.env["MEDIA_ROOT"]) / "hls" / internal_name / rung

    def segments(self) -> list[tuple[str, str]]:
        """(init, segment) of every segment recorded so far."""
        found, init = [], ""
        for line in (self.directory / "recording.m3u8").read_text().splitlines():
            if line.startswith("#EXT-X-MAP:"):
                init = re.search(r'URI="([^"]+)"', line).group(1)
            elif line and not line.startswith("#"):
                found.append((init, line))
        return found

    def mark(self, timeout: float = 30) -> tuple[float, float]:
        before = recorded_seconds(self.box, self.name, self.rung)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = recorded_seconds(self.box, self.name, self.rung)
            if now != before:
                return time.monotonic(), now
            time.sleep(0.05)
        raise AssertionError(f"the recording of {self.name}/{self.rung} did not grow in {timeout} s")

    @staticmethod
    def lost(first: tuple[float, float], last: tuple[float, float]) -> float:
        """Wall time that passed less media recorded between two marks."""
        return (last[0] - first[0]) - (last[1] - first[1])


class Chat:
    """Chat as chat.js does it, through nginx: the creator sends a message every second and keeps
    the ids acknowledged; an anonymous viewer records every message it gets, and rejoins after
    a dropped socket with `after=<last id>` for what it missed. Nothing acknowledged may be lost."""

    def __init__(self, box: Box, cookie: str) -> None:
        self.box, self.cookie = box, cookie
        self.acked: list[int] = []
        self.received: set[int] = set()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.send_loop, daemon=True),
                        threading.Thread(target=self.receive_loop, daemon=True)]
        for thread in self.threads:
            thread.start()

    def keep(self, headers: dict, session, handlers: dict | None = None) -> None:
        """Connect, run `session(client)` while connected, and again after any failure (the box is
        mid-fault), until stopped."""
        import socketio

        while not self.stopping.is_set():
            client = socketio.Client(reconnection=False)
            for event, handler in (handlers or {}).items():
                client.on(event, handler, namespace="/chat")
            try:
                client.connect(self.box.base_url, namespaces=["/chat"], transports=["websocket"],
                               headers=headers, wait_timeout=5)
                session(client)
            except Exception:  # noqa: BLE001 - try again
                pass
            finally:
                try:
                    client.disconnect()
                except Exception:  # noqa: BLE001 - already gone
                    pass
            self.stopping.wait(0.5)

    def send_loop(self) -> None:
        sent = iter(range(1, 10**9))

        def session(client) -> None:
            client.call("join", {"channel": "faulty"}, namespace="/chat", timeout=5)
            while client.connected and not self.stopping.is_set():
                try:
                    ack = client.call("send", {"channel": "faulty", "text": f"still here {next(sent)}"},
                                      namespace="/chat", timeout=5)
                except Exception:  # noqa: BLE001 - not acknowledged: not counted
                    ack = None
                if isinstance(ack, dict) and ack.get("ok"):
                    self.acked.append(int(ack["id"]))
                self.stopping.wait(1.0)

        self.keep({"Cookie": self.cookie}, session)

    def receive_loop(self) -> None:
        def session(client) -> None:
            state = client.call("join", {"channel": "faulty", "after": max(self.received, default=0)},
                                namespace="/chat", timeout=5)
            self.received.update(int(m["id"]) for m in (state or {}).get("messages", ()))
            while client.connected and not self.stopping.is_set():
                self.stopping.wait(0.2)

        self.keep({}, session, {"message": lambda data: self.received.add(int(data["id"]))})

    def lost(self) -> list[int]:
        """Acknowledged messages the viewer has not had (waiting a little for the newest)."""
        acked = list(self.acked)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not set(acked) <= self.received:
            time.sleep(0.2)
        return sorted(set(acked) - self.received)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)


def login_cookie(box: Box, username: str, password: str) -> str:
    import requests

    http = requests.Session()
    page = http.get(f"{box.base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = http.post(f"{box.base_url}/login", allow_redirects=False, timeout=10,
                         data={"login": username, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text[:500]
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


@pytest.fixture(scope="module")
def live(box, site, source_file, tmp_path_factory):
    """A creator live for the whole module, with a viewer and chat; yields (status, publisher,
    viewer, chat)."""
    from datetime import date

    from app.auth.services import create_account
    from app.channels import services as channels

    with site.app_context():
        user = create_account("faulty", "faulty@example.com", "a long enough pass", date(1990, 1, 1))
        key = channels.rotate_stream_key(user.channel)
    publisher = Publisher(box, source_file, key, tmp_path_factory.mktemp("pub") / "publisher.log")
    chat = None
    try:
        status = wait_for(lambda: (s := box.api("faulty")) and s["live"] and s, 40, "the creator to be live",
                          lambda: box.log_text())
        rung = status["renditions"][0]["name"]
        viewer = Viewer(box, status["hls_url"].rsplit("/", 1)[0] + f"/{rung}/index.m3u8").start()
        chat = Chat(box, login_cookie(box, "faulty", "a long enough pass"))
        wait_for(lambda: len(viewer.seen) > 5 and chat.acked, 30, "parts and chat to flow",
                 lambda: box.log_text())
        yield status, publisher, viewer, chat
        viewer.stop()
    finally:
        if chat is not None:
            chat.stop()
        publisher.stop()


@contextlib.contextmanager
def fault(box: Box, live, name: str, *, max_gap: float, max_lost: float):
    """Around one injected fault: the recording marked before and after, the viewing gap measured,
    and the stream checked to be the same session, live and advancing, with no manual step."""
    status, publisher, viewer, chat = live
    internal = status["hls_url"].split("/")[2]
    recording = Recording(box, internal, status["renditions"][0]["name"])
    first = recording.mark()
    recorded_before = len(recording.segments())
    reconnects = publisher.reconnects
    began = time.monotonic()
    yield
    wait_for(lambda: (s := box.api("faulty")) and s["live"] and s["hls_url"] == status["hls_url"], 60,
             f"the stream to be live again after {name}", lambda: box.log_text())
    wait_for(lambda: viewer.seen and viewer.seen[-1][0] > began + 1 and
             time.monotonic() - viewer.seen[-1][0] < 1.0, 60, f"parts to flow again after {name}",
             lambda: box.log_text())
    time.sleep(6)
    last = recording.mark()
    acked = len(chat.acked)
    wait_for(lambda: len(chat.acked) > acked, 30, f"chat to work again after {name}", lambda: box.log_text())
    gap, lost, unheard = viewer.gap(began), Recording.lost(first, last), chat.lost()
    # Counted in frames unless the publisher reconnected (its file starts again at frame 0): then
    # wall time less media recorded, which also counts media that is only later than before (a
    # run restarted from a backlog records it no faster than real time: `later_by`).
    missing, repeated = missing_and_repeated(
        frame_numbers(recording.directory, recording.segments()[recorded_before - 1:]))
    if publisher.reconnects == reconnects:
        lost = missing / SOURCE_FPS
    print(f"fault={name} viewing_gap_s={gap:.2f} recording_lost_s={lost:.2f} "
          f"recording_repeated_s={repeated / SOURCE_FPS:.2f} later_by_s={Recording.lost(first, last):.2f} "
          f"publisher_reconnects={publisher.reconnects} chat_acknowledged={len(chat.acked)} "
          f"chat_lost={len(unheard)}")
    assert gap <= max_gap, f"{name}: no new part for {gap:.1f} s\n{box.log_text()}"
    assert lost <= max_lost, f"{name}: {lost:.1f} s missing from the recording\n{box.log_text()}"
    assert not unheard, f"{name}: acknowledged chat messages never delivered: {unheard}"
