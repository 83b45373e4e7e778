"""The whole box as `make run` starts it: nginx in front of gunicorn/gevent, RTMP ingest guarded by hooks."""
from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
import socketio

from tests.conftest import wait_for

from .conftest import ROOT, require_tool

pytestmark = pytest.mark.e2e


def get(url: str, timeout: float = 10):
    """(status, headers, body) for a GET, 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def test_rendered_config_passes_nginx_t_and_is_private(stack):
    nginx = require_tool("nginx")
    result = subprocess.run([nginx, "-t", "-p", str(stack.prefix), "-c", str(stack.conf), "-e", "stderr"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert stat.S_IMODE(stack.conf.stat().st_mode) == 0o600
    text = stack.conf.read_text()
    secret = stack.env["HOOK_SECRET"]
    # The secret travels only as the header the loopback hook server adds, never in a URL.
    assert text.count(secret) == 1
    assert f'X-Hook-Secret "{secret}"' in text
    assert "ngx_rtmp_module.so" in text


def test_healthz_through_nginx(stack):
    status, headers, _ = get(f"{stack.base_url}/healthz")
    assert status == 200
    assert headers["Server"] == "nginx"  # server_tokens off: no version


def test_mailed_link_tokens_never_reach_the_access_logs(stack):
    """A password-reset or verification link's token is a secret: nginx's and gunicorn's access
    logs write "[token]" in its place, in the request line and in the referrer."""
    token = "Tok" + uuid.uuid4().hex
    for path in (f"/reset-password/{token}", f"/verify-email/{token}.sig?x=1"):
        request = urllib.request.Request(f"{stack.base_url}{path}",
                                         headers={"Referer": f"{stack.base_url}{path}"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as exc:
            exc.close()
    wait_for(lambda: stack.log_text().count("/verify-email/[token]") >= 4, 10,
             "both access logs to log the requests")
    logs = stack.log_text()
    assert "/reset-password/[token]" in logs
    assert token not in logs


def test_readyz_through_nginx_finds_the_processes_of_the_box(stack):
    """From the box itself (nginx passes the client address on) /readyz has the details, and finds
    nginx-rtmp's statistics, the live host and the RQ worker the stack runs."""
    def answered():
        status, headers, body = get(f"{stack.base_url}/readyz")
        found = {check["name"]: check for check in json.loads(body)["checks"]}
        wanted = ("database", "redis", "ingest", "live_hosts", "workers")
        return (status, headers, found, body) if all(found[name]["ok"] for name in wanted) else None

    status, headers, found, body = wait_for(answered, 30, "/readyz to find every process", stack.log_text)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert "nginx" in found["ingest"]["summary"] and found["ingest"]["required"] is False
    assert found["live_hosts"]["detail"]["capacity_cores"] > 0
    assert found["workers"]["detail"]["queue"] == stack.env["RQ_QUEUE"]
    for secret in (stack.env["HOOK_SECRET"], stack.env["SECRET_KEY"]):
        assert secret.encode() not in body


def test_home_page_through_nginx_carries_security_headers(stack):
    status, headers, body = get(f"{stack.base_url}/")
    assert status == 200
    assert b"<html" in body.lower()
    csp = headers["Content-Security-Policy"]
    assert csp and "default-src 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"]


def test_static_files_are_served_by_nginx_with_caching(stack):
    static = ROOT / "app" / "static"
    vendored = sorted((static / "vendor").glob("*.js"))
    assert vendored, "app/static/vendor holds htmx"
    status, headers, body = get(f"{stack.base_url}/static/vendor/{vendored[0].name}")
    assert status == 200
    assert body == vendored[0].read_bytes()
    # Flask would answer "no-cache"; this header comes only from nginx's /static/ location.
    assert "max-age=31536000" in headers["Cache-Control"]
    assert "immutable" in headers["Cache-Control"]
    assert headers["Content-Type"].startswith("application/javascript")

    css = sorted(static.rglob("*.css"))
    assert css
    relative = css[0].relative_to(static).as_posix()
    status, headers, _ = get(f"{stack.base_url}/static/{relative}")
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=3600"
    assert headers["Content-Type"].startswith("text/css")

    # The pages link static files with a content hash, and those URLs are cached for good.
    _, _, body = get(f"{stack.base_url}/")
    linked = re.search(rb'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', body)
    assert linked, "home page links its stylesheet with a version hash"
    status, headers, _ = get(stack.base_url + linked.group(1).decode())
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_hooks_are_not_reachable_from_the_public_port(stack):
    status, _, _ = get(f"{stack.base_url}/hooks/rtmp/publish")
    assert status == 404


@pytest.mark.parametrize("front", ["nginx", "gunicorn"])
def test_socketio_upgrades_to_websocket(stack, front):
    """A websocket-only client connects, both through nginx and straight to gunicorn/gevent."""
    port = stack.http_port if front == "nginx" else stack.web_port
    client = socketio.Client(reconnection=False)
    try:
        client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=10)
        assert client.connected
        assert client.transport() == "websocket"
    finally:
        client.disconnect()


def test_rtmp_port_accepts_connections(stack):
    with socket.create_connection(("127.0.0.1", stack.rtmp_port), timeout=5):
        pass


def test_rtmp_publish_is_refused_when_no_hook_approves_it(stack):
    ffmpeg = require_tool("ffmpeg")
    key = f"e2e-key-{uuid.uuid4().hex}"
    started = time.monotonic()
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
         "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-t", "3",
         "-c:v", "libx264", "-f", "flv", f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{key}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, "nginx-rtmp accepted a publish no hook approved"
    assert time.monotonic() - started < 30
    # Stream names are keys: neither nginx's logs nor the app's may print them.
    assert key not in stack.log_text()


def test_nginx_workers_run_as_the_rendered_user(stack):
    """A root master hands the workers to `user` (www-data when it can reach the served files)."""
    text = stack.conf.read_text()
    if "\nuser " not in text:
        pytest.skip("no `user` line: nginx was not started as root")
    user = text.split("\nuser ", 1)[1].split()[0]
    ps = subprocess.run(["ps", "-o", "user=", "--ppid", str(stack.nginx_pid)],
                        capture_output=True, text=True, timeout=10)
    workers = ps.stdout.split()
    assert workers, "nginx master has no worker processes"
    assert set(workers) == {user}
