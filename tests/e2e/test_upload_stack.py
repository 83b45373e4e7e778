"""Picture uploads against the real front: nginx and gunicorn's single gevent worker (wsgi.py),
nothing else. Decoding runs off the event loop, so /healthz answers quickly while six 40 MP
uploads are being decoded; a body past nginx's limit gets the app's message, not nginx's page."""
from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time

import pytest
import requests
from PIL import Image

from .conftest import ROOT, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

PASSWORD = "a long enough pass"
MIB = 1024 * 1024
HEALTHZ_BUDGET = 0.2  # seconds: what the issue asks of /healthz during the uploads
UPLOADS = 6


def flask(env, *args) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """nginx in front of gunicorn's gevent worker, on a migrated SQLite database."""
    with running_stack(tmp_path_factory.mktemp("front"), {}, roles=("web", "nginx")) as stack:
        yield stack


def logged_in(front, username: str) -> tuple[requests.Session, str]:
    """A browser session of a new account, and a CSRF token for its forms."""
    flask(front.env, "users", "create", username, "--password", PASSWORD)
    browser = requests.Session()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                      browser.get(f"{front.base_url}/login", timeout=10).text).group(1)
    answer = browser.post(f"{front.base_url}/login", timeout=10, allow_redirects=False,
                          data={"login": username, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text[:300]
    page = browser.get(f"{front.base_url}/settings/profile", timeout=10).text
    return browser, re.search(r'name="[a-z-]*csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def forty_megapixels() -> bytes:
    """The issue's picture: a PNG of about 113 KiB that decodes to 8000x5000 (40 MP)."""
    out = io.BytesIO()
    Image.new("RGB", (8000, 5000), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def post_picture(front, browser, token, kind: str, data: bytes, hx: bool = True) -> requests.Response:
    path, prefix = (("/dashboard/thumbnail", "") if kind == "thumbnail"
                    else (f"/settings/profile/picture/{kind}", f"{kind}-"))
    return browser.post(f"{front.base_url}{path}", timeout=120, headers={"HX-Request": "true"} if hx else {},
                        data={f"{prefix}csrf_token": token},
                        files={f"{prefix}picture": ("picture.png", data, "image/png")})


def test_healthz_stays_quick_while_six_huge_pictures_are_decoded(front):
    picture = forty_megapixels()
    assert 90 * 1024 < len(picture) < 200 * 1024
    browser, token = logged_in(front, "bigpictures")
    kinds = ["avatar", "banner", "background", "thumbnail", "avatar", "banner"]
    results: list[tuple[int, str, float, float]] = []

    def upload(kind: str) -> None:
        began = time.monotonic()
        response = post_picture(front, browser, token, kind, picture)
        results.append((response.status_code, response.text, began, time.monotonic()))

    probe = requests.Session()
    probe.get(f"{front.base_url}/healthz", timeout=5)  # a warm connection, as a monitor keeps one
    threads = [threading.Thread(target=upload, args=(kind,)) for kind in kinds]
    for thread in threads:
        thread.start()
    timings: list[tuple[float, float]] = []  # (when it was sent, how long it took)
    while any(thread.is_alive() for thread in threads):
        sent = time.monotonic()
        answer = probe.get(f"{front.base_url}/healthz", timeout=10)
        timings.append((sent, time.monotonic() - sent))
        assert answer.status_code == 200
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert len(results) == UPLOADS
    for status, text, _, _ in results:
        assert status == 200 and ("Uploaded." in text or "Thumbnail saved." in text), text[:300]
    # The probes overlapped the decoding: sent between the first upload's start and the last one's end.
    first, last = min(r[2] for r in results), max(r[3] for r in results)
    during = [took for sent, took in timings if first <= sent <= last]
    assert len(during) >= 10, f"only {len(during)} probes during {last - first:.1f} s of uploads"
    slowest = max(during)
    print(f"uploads={UPLOADS} upload_window_s={last - first:.2f} probes={len(during)} "
          f"healthz_max_ms={slowest * 1000:.0f}")
    assert slowest < HEALTHZ_BUDGET, sorted(during)[-5:]


def test_a_file_past_nginxs_limit_gets_the_apps_message(front):
    """23 MB (the issue's file) is past client_max_body_size (21 MB: the 20 MB picture limit and
    a megabyte for the form): nginx refuses it unread and asks the app for the page; htmx's
    request gets the same page, whose message site.js shows in the form."""
    browser, token = logged_in(front, "hugefile")
    for hx in (True, False):
        response = post_picture(front, browser, token, "thumbnail", b"\xff\xd8" + b"x" * (23 * MIB), hx=hx)
        assert response.status_code == 413
        assert "text/html" in response.headers["Content-Type"]
        assert re.search(r'data-error-message>That file is larger than 20 MB\. Pick a smaller picture\.<',
                         response.text), response.text[:500]
        assert "nginx" not in response.text
    # Between the picture limit and the body limit: the app reads the form and says the same.
    response = post_picture(front, browser, token, "avatar", b"\xff\xd8" + b"x" * (20 * MIB + 100))
    assert response.status_code == 200
    assert "That file is larger than 20 MB. Pick a smaller picture." in response.text
