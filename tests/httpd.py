"""A peer's HTTP API on loopback for a test (nginx-rtmp's control and stat pages, a health check's
target, another site framing our player): a handler class served on a thread of its own."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How often serve_forever looks for shutdown(). Its default, 0.5 s, was the time every test using
# one of these servers spent in teardown (45 dashboard tests: 15 s of the quick suite).
POLL_SECONDS = 0.02


class Served:
    """`handler` served at 127.0.0.1 on a free port until close()."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], server_class: Any = ThreadingHTTPServer):
        self.server = server_class(("127.0.0.1", 0), handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": POLL_SECONDS}, daemon=True)
        self.thread.start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Quiet(BaseHTTPRequestHandler):
    """A handler that keeps the test's output free of http.server's request log."""

    def log_message(self, *args: Any) -> None:
        pass
