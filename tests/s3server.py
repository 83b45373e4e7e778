"""A real S3 API on loopback for tests: MinIO when one is configured or installed, else moto's
server (its S3 service in a thread of the test process).

`TEST_S3_ENDPOINT_URL` (with `TEST_S3_ACCESS_KEY`/`TEST_S3_SECRET_KEY`) points the tests at a
running MinIO or other store; otherwise a `minio` binary on PATH is started on a free port;
otherwise moto. Each test gets its own bucket, deleted afterwards.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.ports import free_port
from tests.tcpproxy import Proxy


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    kind: str  # "minio", "moto" or "external"

    def config(self, bucket: str) -> dict:
        """App config that stores objects in `bucket` on this server."""
        return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": self.endpoint_url, "S3_BUCKET": bucket,
                "S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def new_bucket_name(self) -> str:
        return f"cascade-test-{uuid.uuid4().hex[:12]}"


def _wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers, even if not with 200
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the S3 test server at {url} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def running_s3():
    """Yield an S3Server for the duration of the block."""
    if os.environ.get("TEST_S3_ENDPOINT_URL"):
        yield S3Server(os.environ["TEST_S3_ENDPOINT_URL"], os.environ.get("TEST_S3_ACCESS_KEY", ""),
                       os.environ.get("TEST_S3_SECRET_KEY", ""), "external")
        return
    minio = shutil.which("minio")
    if minio:
        port = free_port()
        data = tempfile.mkdtemp(prefix="cascade-minio-")
        env = {**os.environ, "MINIO_ROOT_USER": "cascadetest", "MINIO_ROOT_PASSWORD": "cascadetest-secret"}
        process = subprocess.Popen([minio, "server", "--quiet", "--address", f"127.0.0.1:{port}", data],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/minio/health/live")
            yield S3Server(f"http://127.0.0.1:{port}", "cascadetest", "cascadetest-secret", "minio")
        finally:
            process.terminate()
            process.wait(10)
            shutil.rmtree(data, ignore_errors=True)
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        _wait_ready(f"http://127.0.0.1:{port}/moto-api/")
        yield S3Server(f"http://127.0.0.1:{port}", "testing", "testing-secret", "moto")
    finally:
        server.stop()


@contextlib.contextmanager
def behind_proxy(server: S3Server) -> Iterator[tuple[S3Server, Proxy]]:
    """(`server` as reached through a TCP proxy (tests/tcpproxy.py), the proxy) for the duration
    of the block, so a test can make the store unreachable: `go_silent()` (connections accepted,
    nothing answered), `refuse()`, then `restore()`."""
    endpoint = urlsplit(server.endpoint_url)
    proxy = Proxy((endpoint.hostname, endpoint.port))
    try:
        yield dataclasses.replace(server, endpoint_url=f"http://127.0.0.1:{proxy.port}"), proxy
    finally:
        proxy.refuse()  # closes its listener and every connection
