"""Dashboard fixtures: a stand-in for the ingest server's control API."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@pytest.fixture
def ingest_control(app):
    """A stand-in for the ingest server's control API on loopback (HOOK_PORT): Stop really asks it
    to drop the publisher, and the test sees what it was asked."""
    asked: list[tuple[str, dict]] = []

    class ControlAPI(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            asked.append((url.path, {k: v[0] for k, v in parse_qs(url.query).items()}))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ControlAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["HOOK_PORT"] = server.server_address[1]
    yield asked
    server.shutdown()
    server.server_close()
    thread.join(5)
