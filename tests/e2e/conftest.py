"""The real box on random ports: migrated SQLite, gunicorn's gevent worker via wsgi.py, nginx-rtmp."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.ports import free_ports

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 40.0


@dataclass
class Stack:
    http_port: int
    rtmp_port: int
    hook_port: int
    web_port: int
    prefix: Path
    conf: Path
    logs: Path
    env: dict
    nginx_pid: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_text(self) -> str:
        """Everything the stack has logged so far: our process logs and nginx's own."""
        parts = []
        for path in sorted([*self.logs.glob("*.log"), *(self.prefix / "logs").glob("*.log")]):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)


def require_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        message = f"{name} is not installed (`make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def start(args: list[str], log: Path, env: dict) -> subprocess.Popen:
    """Start a process in its own process group, output to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop the process and everything it started (its process group)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stragglers: workers whose master already left
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=5)


def wait_for_health(stack: Stack, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args[0]} exited with {process.returncode}\n{stack.log_text()}")
        try:
            with urllib.request.urlopen(f"{stack.base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    pytest.fail(f"/healthz through nginx did not answer 200 within {START_TIMEOUT:.0f} s "
                f"({last})\n{stack.log_text()}")


@contextlib.contextmanager
def storage_env(request, backend: str):
    """Stack environment for a storage backend. S3: a bucket of its own on the test S3 server,
    emptied and deleted afterwards (`flask storage init` makes it). Local: the stack's directory."""
    if backend == "local":
        yield {"STORAGE_BACKEND": "local"}
        return
    from app.storage.backends import S3Storage

    server = request.getfixturevalue("s3_server")
    config = server.config(server.new_bucket_name())
    yield config
    storage = S3Storage(config["S3_BUCKET"], endpoint_url=server.endpoint_url,
                        access_key=server.access_key, secret_key=server.secret_key)
    if config["S3_BUCKET"] in {found["Name"] for found in storage.client.list_buckets()["Buckets"]}:
        storage.delete_keys(obj.key for obj in storage.list())
        storage.client.delete_bucket(Bucket=config["S3_BUCKET"])


@pytest.fixture(scope="module", params=["local", "s3"])
def storage_backend(request) -> str:
    """For modules whose stack runs on each storage backend (see `storage_stack_env`)."""
    return request.param


@pytest.fixture(scope="module")
def storage_stack_env(request, storage_backend):
    """The stack's environment for `storage_backend`. A module runs its stack on each backend by
    overriding `stack_env` with `def stack_env(storage_stack_env): return storage_stack_env`."""
    with storage_env(request, storage_backend) as env:
        yield env


# The encoding cost model of stacks whose tests expect a given ladder or capacity: what a test
# admits must not depend on how fast this machine's x264 is that day (a busy CI box measured the
# 720p ladder out of a core, and a host that learnt from a slow box's first ladder kept the freed
# capacity from the next).
COST_MODEL = {"encode": {"veryfast": 0.012, "superfast": 0.010, "ultrafast": 0.008}, "decode": 0.002}


def fixed_cost_env() -> dict:
    """A live host of 0.85 of a core that encodes at COST_MODEL's cost, learning nothing."""
    return {"LIVE_HOST_CORES": "1", "LIVE_HOST_SHARE": "0.85", "LIVE_COST_MODEL": json.dumps(COST_MODEL),
            "LIVE_COST_CORRECTION_MAX": "1"}


@pytest.fixture(scope="module")
def stack_env() -> dict:
    """Extra environment for a module's stack; a test module overrides it (S3 storage, say)."""
    return {}


# The box's processes, as the Procfile runs them; a test module may start only some of them.
ROLES = ("web", "worker", "live", "nginx")


@contextlib.contextmanager
def running_stack(base: Path, extra_env: dict, roles: tuple[str, ...] = ROLES, web_workers: int = 1):
    """A migrated box under `base` on free ports, running `roles` (gunicorn with `web_workers`
    workers): the Stack, stopped after."""
    nginx = require_tool("nginx")
    logs = base / "logs"
    logs.mkdir()
    prefix = base / "nginx"
    conf = prefix / "nginx.conf"
    http_port, rtmp_port, hook_port, web_port = free_ports(4)

    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update({
        "DATABASE_URL": f"sqlite:///{base / 'cascade.db'}",
        "REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"e2e-{uuid.uuid4().hex}",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "HOOK_SECRET": secrets.token_urlsafe(32),
        "HTTP_PORT": str(http_port),
        "RTMP_PORT": str(rtmp_port),
        "HOOK_PORT": str(hook_port),
        "WEB_PORT": str(web_port),
        "MEDIA_ROOT": str(base / "media"),
        "SECURE_COOKIES": "false",
        "PROXY_COUNT": "1",
        "PYTHONUNBUFFERED": "1",
        "RQ_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": "INFO",
    })
    env.update(extra_env)
    stack = Stack(http_port, rtmp_port, hook_port, web_port, prefix, conf, logs, env)

    flask = [sys.executable, "-m", "flask", "--app", "app"]
    for step in (["db", "upgrade"], ["nginx", "render", "--output", str(conf), "--prefix", str(prefix)]):
        result = subprocess.run([*flask, *step], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"flask {' '.join(step)} failed:\n{result.stdout}{result.stderr}"

    commands = {
        "web": [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(web_workers),
                "--bind", f"127.0.0.1:{web_port}", "--graceful-timeout", "3", "wsgi:app"],
        "worker": [sys.executable, "-m", "workers"],
        "live": [sys.executable, "-m", "workers.live"],
        "nginx": [nginx, "-p", str(prefix), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
    }
    logged = {"web": "gunicorn", "worker": "worker", "live": "live", "nginx": "nginx"}
    processes = []
    try:
        for role in ROLES:
            if role in roles:
                processes.append(start(commands[role], logs / f"{logged[role]}.log", env))
                if role == "nginx":
                    stack.nginx_pid = processes[-1].pid
        wait_for_health(stack, processes)
        yield stack
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_env):
    with running_stack(tmp_path_factory.mktemp("stack"), stack_env) as stack:
        yield stack


@pytest.fixture(scope="module")
def source_file(tmp_path_factory) -> Path:
    """A 720p30 H.264/AAC file with 1 s GOPs: publishers push it with -c copy and cost nothing."""
    path = tmp_path_factory.mktemp("source") / "720p.flv"
    subprocess.run([require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
                    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "30", "-b:v", "2000k", "-c:a", "aac", str(path)], check=True, timeout=120)
    return path
