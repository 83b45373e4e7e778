"""A live app on a real port for the browser tests (the browser itself: tests/conftest.py)."""
import re
import threading
from pathlib import Path

import pytest
from redis import Redis
from werkzeug.serving import make_server

from app.extensions import db, limiter
from tests.conftest import TEST_REDIS_URL, base_config, empty_database
from tests.factories import PASSWORD
from tests.httpd import POLL_SECONDS

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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True)
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


@pytest.fixture
def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def open_page(browser, base_url: str, width: int, scheme: str, **options):
    """A fresh context `width` px wide in the `scheme` colour scheme, its page, and a list that
    collects the console errors and uncaught exceptions the page logs (tests assert it stays empty)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                  base_url=base_url, **options)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return context, page, problems


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the form and wait for the home page to finish loading (leaving it
    mid-download drops a static file the dev server is sending, which logs an error)."""
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    page.wait_for_load_state()
