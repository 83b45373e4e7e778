"""Every request gets an answer: no 502 from the nginx <-> gunicorn keep-alive race.

nginx keeps idle connections to the app open and reuses them; when gunicorn closes one just as
nginx sends a request on it, nginx gets a reset or an early close and answers 502, and it retries
GETs but never POSTs. The cure (gunicorn.conf.py, media/nginx.conf.j2; the invariant itself is
checked in tests/media/test_nginx_conf.py) is that nginx is always the side that closes an idle
connection: its upstream keepalive_timeout is shorter than gunicorn's keep-alive.

Both sides are real (gunicorn's gevent worker with the project's gunicorn.conf.py, nginx with the
rendered config). On one machine the race window is a few microseconds, so a proxy between them
(tests/tcpproxy.py) passes gunicorn's close on CLOSE_DELAY late, as a network between two hosts
does; the idle timeouts are scaled down to a second and the POSTs come just after it. With
gunicorn closing first (its default 2 s keep-alive, before the fix) POSTs fail; with nginx
closing first, none does. The full-length run (300 POSTs at 2 s and at random 1.5-3 s intervals
against `make run`) is bench/keepalive.py.
"""
from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.tcpproxy import Proxy

from .conftest import ROOT, free_ports, require_tool, start, stop

pytestmark = pytest.mark.e2e

POSTS = 12
IDLE = 1  # seconds: the scaled-down idle timeout
CLOSE_DELAY = 0.4  # seconds a close takes to reach nginx


class WebPair:
    """gunicorn (the project's gunicorn.conf.py, optionally another keep-alive) behind nginx."""

    def __init__(self, base: Path, *, nginx_idle: int, gunicorn_keepalive: int | None) -> None:
        self.base = base
        self.nginx_idle = nginx_idle
        self.gunicorn_keepalive = gunicorn_keepalive
        self.processes: list[subprocess.Popen] = []
        self.http_port = 0

    def __enter__(self) -> WebPair:
        from app.deploy.nginx import prepare_dirs, render_nginx_conf, settings_from_config

        nginx = require_tool("nginx")
        logs = self.base / "logs"
        logs.mkdir(parents=True)
        prefix = self.base / "nginx"
        self.http_port, rtmp_port, hook_port, web_port = free_ports(4)
        self.proxy = Proxy(("127.0.0.1", web_port), close_delay=CLOSE_DELAY)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": f"sqlite:///{self.base / 'cascade.db'}",
            "REDIS_URL": TEST_REDIS_URL, "RATELIMIT_ENABLED": "false",
            "SECRET_KEY": secrets.token_urlsafe(32), "HOOK_SECRET": secrets.token_urlsafe(32),
            "HTTP_PORT": str(self.http_port), "RTMP_PORT": str(rtmp_port), "HOOK_PORT": str(hook_port),
            "WEB_PORT": str(web_port), "MEDIA_ROOT": str(self.base / "media"), "SECURE_COOKIES": "false",
            "PROXY_COUNT": "1", "RQ_QUEUE": f"keepalive-{uuid.uuid4().hex[:8]}",
        }
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=120)
        config = {"HTTP_PORT": self.http_port, "HOOK_PORT": hook_port, "WEB_PORT": self.proxy.port,
                  "RTMP_PORT": rtmp_port, "MEDIA_ROOT": env["MEDIA_ROOT"], "HOOK_SECRET": env["HOOK_SECRET"]}
        settings = settings_from_config(config, prefix)
        settings["upstream_idle_seconds"] = self.nginx_idle
        prepare_dirs(settings)
        conf = prefix / "nginx.conf"
        conf.write_text(render_nginx_conf(settings))
        gunicorn = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{web_port}", "wsgi:app"]
        if self.gunicorn_keepalive is not None:
            gunicorn[3:3] = ["--keep-alive", str(self.gunicorn_keepalive)]
        self.processes.append(start(gunicorn, logs / "gunicorn.log", env))
        self.processes.append(start([nginx, "-p", str(prefix), "-c", str(conf), "-e", "stderr",
                                     "-g", "daemon off;"], logs / "nginx.log", env))
        deadline = time.monotonic() + 40
        while self.status("GET", "/healthz") != 200:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.__exit__()
                pytest.fail("the web pair did not start:\n" + "\n".join(
                    path.read_text(errors="replace") for path in logs.glob("*.log")))
            time.sleep(0.25)
        return self

    def __exit__(self, *exc_info) -> None:
        for process in reversed(self.processes):
            stop(process)
        self.proxy.refuse()

    def status(self, method: str, path: str) -> int | None:
        body = b"login=nobody&password=wrong" if method == "POST" else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as refusal:
            return refusal.code
        except OSError:
            return None

    def post_spaced(self, gaps: list[float]) -> list[int | None]:
        """One form POST after each gap, one at a time (so nginx reuses one idle connection)."""
        answers = []
        for gap in gaps:
            time.sleep(gap)
            answers.append(self.status("POST", "/login"))
        return answers


def test_no_form_post_gets_a_5xx_from_the_keep_alive_race(tmp_path):
    # Just past the idle timeout, inside the window in which gunicorn's close is on its way.
    gaps = [IDLE + 0.05 + 0.2 * n / POSTS for n in range(POSTS)]
    results: dict[str, list[int | None]] = {}
    with WebPair(tmp_path / "shipped", nginx_idle=IDLE, gunicorn_keepalive=None) as shipped, \
            WebPair(tmp_path / "control", nginx_idle=60, gunicorn_keepalive=IDLE) as control:
        threads = [threading.Thread(target=lambda name=name, pair=pair: results.__setitem__(
            name, pair.post_spaced(gaps))) for name, pair in (("shipped", shipped), ("control", control))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # nginx closing idle connections first (gunicorn.conf.py's keep-alive is far longer): all answered.
    assert all(status in (200, 400) for status in results["shipped"]), results["shipped"]
    # The control, gunicorn closing first: the race the fix removes, seen by this very harness.
    raced = [status for status in results["control"] if status is None or status >= 500]
    assert len(raced) >= POSTS // 4, results["control"]
