"""A live app on a real port, and Debian's chromium driven by Playwright."""
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.extensions import db, limiter
from redis import Redis

from tests.conftest import TEST_REDIS_URL, base_config, empty_database

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


def serve(app):
    """Serve `app` on a free port in a thread; yields (base URL, app), then empties the database."""
    with app.app_context():
        limiter.reset()
    # Viewer counts, snapshots and queues keyed by ids that every module's fresh database reuses:
    # a module must not see the previous one's.
    with Redis.from_url(TEST_REDIS_URL) as redis:
        redis.flushdb()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(5)
    with app.app_context():
        empty_database()
        limiter.reset()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_server(sqlite_url):
    from app import create_app

    yield from serve(create_app(base_config(sqlite_url)))


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
