"""/metrics on the real box: gunicorn with two workers in multiprocess mode behind nginx, the RQ
worker, nginx-rtmp; Debian's Prometheus scraping it; and no client address in the logs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import COST_MODEL, ROOT, require_tool, running_stack
from tests.e2e.test_live import flask, publish
from tests.metrics.scrape import debian_tool, promtool_check_metrics, samples, total, value
from tests.ports import free_ports

pytestmark = pytest.mark.e2e

REQUESTS = 300
HEALTHZ = {"method": "GET", "endpoint": "home.healthz", "status": "200"}
# An address no test machine has: sent as X-Forwarded-For, it must not reach any log either.
FORWARDED = "198.51.100.23"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("metrics-stack")
    folder = base / "metrics"
    folder.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder),
           # The live host takes this cost model as it is instead of measuring the machine first.
           "LIVE_HOST_CORES": "1", "LIVE_HOST_SHARE": "0.85", "LIVE_COST_MODEL": json.dumps(COST_MODEL),
           "LIVE_COST_CORRECTION_MAX": "1"}
    with running_stack(base, env, web_workers=2) as stack:
        yield stack


def get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def scrape(stack) -> str:
    status, body = get(f"{stack.base_url}/metrics")
    assert status == 200, body
    return body.decode()


def gunicorn_workers(stack) -> set[int]:
    """The pids of the stack's gunicorn workers: gunicorn processes with this stack's environment
    (gunicorn retitles them, so not by their arguments) whose parent is one too (the master)."""
    mark = f"PROMETHEUS_MULTIPROC_DIR={stack.env['PROMETHEUS_MULTIPROC_DIR']}".encode()
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"gunicorn" in command and mark in environment:
            parents[int(entry.name)] = parent
    return {pid for pid, parent in parents.items() if parent in parents}


def test_counters_are_exact_across_two_gunicorn_workers(stack):
    workers = gunicorn_workers(stack)
    assert len(workers) == 2, workers
    # The stack's start-up probes /healthz with a 2 s timeout: one given up on may still be
    # counted after this, so read once the count holds still.
    readings = [value(scrape(stack), "cascade_http_requests_total", **HEALTHZ) or 0]
    while len(readings) < 20 and (len(readings) < 2 or readings[-1] != readings[-2]):
        time.sleep(0.5)
        readings.append(value(scrape(stack), "cascade_http_requests_total", **HEALTHZ) or 0)
    before = readings[-1]
    # Many at once on fresh connections: nginx spreads them over its upstream connections, which
    # both workers accept.
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda _: get(f"{stack.base_url}/healthz")[0], range(REQUESTS)))
    assert statuses == [200] * REQUESTS
    text = scrape(stack)
    assert value(text, "cascade_http_requests_total", **HEALTHZ) - before == REQUESTS
    assert value(text, "cascade_http_request_duration_seconds_count",
                 method="GET", endpoint="home.healthz") - before == REQUESTS
    # Both workers counted some of them (each writes files named after its pid).
    folder = Path(stack.env["PROMETHEUS_MULTIPROC_DIR"])
    writers = {int(path.stem.rsplit("_", 1)[1]) for path in folder.glob("histogram_*.db")}
    assert workers <= writers, (workers, writers)
    checked = promtool_check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # What Redis, the database and nginx know is there too, read at the scrape.
    for source in ("database", "redis", "nginx", "nginx_rtmp"):
        assert value(text, "cascade_source_up", source=source) == 1, source
    assert value(text, "cascade_rq_workers", queue=stack.env["RQ_QUEUE"]) == 1
    assert value(text, "cascade_nginx_http_requests_total") >= REQUESTS


def test_a_worker_that_dies_never_lowers_a_counter(stack):
    before = value(scrape(stack), "cascade_http_requests_total", **HEALTHZ)
    assert before and before >= REQUESTS
    victim = min(gunicorn_workers(stack))
    folder = Path(stack.env["PROMETHEUS_MULTIPROC_DIR"])
    assert (folder / f"gauge_livesum_{victim}.db").exists()  # its open sockets (none)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(gunicorn_workers(stack) - {victim}) == 2, 30, "gunicorn to replace the killed worker")
    # gunicorn.conf.py's child_exit dropped its live gauges; its counters stay.
    assert not (folder / f"gauge_livesum_{victim}.db").exists()
    assert (folder / f"counter_{victim}.db").exists()
    for _ in range(10):
        assert get(f"{stack.base_url}/healthz")[0] == 200
    assert value(scrape(stack), "cascade_http_requests_total", **HEALTHZ) == before + 10


def test_debians_prometheus_scrapes_the_stack(stack, tmp_path):
    prometheus = debian_tool("prometheus")
    for _ in range(5):
        assert get(f"{stack.base_url}/healthz")[0] == 200
    expected = value(scrape(stack), "cascade_http_requests_total", **HEALTHZ)
    (port,) = free_ports(1)
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": "cascade", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [f"127.0.0.1:{stack.http_port}"]}]}],
    }))
    checked = subprocess.run([debian_tool("promtool"), "check", "config", str(config)], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}"],
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    api = f"http://127.0.0.1:{port}/api/v1/query?query="

    def query(expression: str) -> dict:
        status, body = get(api + urllib.parse.quote(expression))
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", (expression, answer)
        return answer["data"]

    def scraped() -> float | None:
        try:
            found = query('sum(cascade_http_requests_total{endpoint="home.healthz",status="200"})')["result"]
        except (OSError, ValueError):
            return None
        return float(found[0]["value"][1]) if found else None

    try:
        wait_for(lambda: scraped() == expected, 30, f"Prometheus to scrape {expected} healthz requests",
                 lambda: f"it has {scraped()}\n{log.read_text(errors='replace')[-3000:]}")
        assert query('up{job="cascade"}')["result"][0]["value"][1] == "1"
        assert query('cascade_source_up{source="redis"}')["result"][0]["value"][1] == "1"
        # Every query of the bundled dashboard is one Prometheus takes.
        dashboard = json.loads((ROOT / "docs" / "metrics" / "grafana-dashboard.json").read_text())
        expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]
        assert len(expressions) > 20
        for expression in expressions:
            query(expression.replace("$job", ".*").replace("$__rate_interval", "1m"))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_the_scrape_config_in_docs_passes_promtool():
    checked = subprocess.run([debian_tool("promtool"), "check", "config", str(ROOT / "docs/metrics/prometheus.yml")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_live_session_measured_by_the_live_host_is_scraped_from_the_web(stack):
    """The live host's figures (in Redis) and its part publish lag (its own multiprocess files)
    reach the web workers' /metrics, labelled by session and channel while it is live."""
    flask(stack, "users", "create", "metricscaster", "--password", "a long enough pass")
    key = flask(stack, "channels", "key", "metricscaster", "--rotate").strip().splitlines()[-1]
    publisher = publish(stack, key, 40)
    try:
        def measured():
            text = scrape(stack)
            found = (total(text, "cascade_live_ingest_bytes_per_second", channel="metricscaster"),
                     total(text, "cascade_live_part_publish_lag_seconds_count"))
            return text if all(found) else None

        text = wait_for(measured, 40, "the live host's figures in /metrics",
                        lambda: scrape(stack) + stack.log_text()[-4000:])
        assert total(text, "cascade_live_sessions", status="live") == 1
        (session,) = {labels["session"] for name, labels, _ in samples(text)
                      if name == "cascade_live_ingest_bytes_per_second"}
        labels = {"session": session, "channel": "metricscaster"}
        # ffmpeg's testsrc2 at 640x360, ultrafast: hundreds of kbit/s to a few Mbit/s.
        assert 10_000 < value(text, "cascade_live_ingest_bytes_per_second", **labels) < 2_000_000
        assert 25 <= value(text, "cascade_live_ingest_frames_per_second", **labels) <= 35
        assert value(text, "cascade_live_input_age_seconds", **labels) < 5
        internal = {labels["stream"] for name, labels, _ in samples(text)
                    if name == "cascade_rtmp_stream_bytes_per_second"}
        assert len(internal) == 1 and value(text, "cascade_rtmp_publishers") == 1
        assert value(text, "cascade_live_hosts") == 1
        # Publish lag: a part on disk is announced within milliseconds (local storage).
        assert total(text, "cascade_live_part_publish_lag_seconds_sum") / total(
            text, "cascade_live_part_publish_lag_seconds_count") < 0.5
        checked = promtool_check_metrics(text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        publisher.kill()
        publisher.wait()
    # Once the session is over its series go (the stats expire within seconds of the encoder stopping).
    wait_for(lambda: value(scrape(stack), "cascade_live_ingest_bytes_per_second", **labels) is None, 45,
             "the session's series to go")


def test_no_client_address_reaches_the_access_logs(stack):
    """Requests from 127.0.0.1 (with an X-Forwarded-For of an address of its own) and an RTMP publish
    attempt: nginx's access and RTMP logs and gunicorn's access log name neither address."""
    for path in ("/", "/healthz", "/no-such-page", "/hls/st-0123456789abcdef/720p/p1.0.m4s?CMCD=sid%3D%22x%22"):
        get(f"{stack.base_url}{path}", headers={"X-Forwarded-For": FORWARDED})
    ffmpeg = require_tool("ffmpeg")
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=10", "-t", "1", "-c:v", "libx264", "-f", "flv",
                    f"rtmp://127.0.0.1:{stack.rtmp_port}/live/not-a-stream-key"],
                   capture_output=True, timeout=30)
    logs = stack.prefix / "logs"

    def written() -> bool:
        access = (logs / "access.log").read_text() if (logs / "access.log").exists() else ""
        rtmp = (logs / "rtmp-access.log").read_text() if (logs / "rtmp-access.log").exists() else ""
        return "/no-such-page" in access and "PUBLISH" in rtmp

    wait_for(written, 15, "nginx to log the requests and the publish attempt", stack.log_text)
    access, rtmp = (logs / "access.log").read_text(), (logs / "rtmp-access.log").read_text()
    assert "127.0.0.0 - " in access  # the network, not the address
    gunicorn = [line for line in (stack.logs / "gunicorn.log").read_text().splitlines() if '"GET /' in line]
    assert any("/no-such-page" in line for line in gunicorn)
    for text in (access, rtmp, "\n".join(gunicorn)):
        assert "127.0.0.1" not in text
        assert FORWARDED not in text
    assert FORWARDED not in stack.log_text()
    assert total(scrape(stack), "cascade_http_requests_total", endpoint="none") >= 1
