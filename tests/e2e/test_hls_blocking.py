"""LL-HLS delivery directives through the real nginx and gunicorn/gevent: files stay files, playlists
come from the app, reloads block."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hls.playlists import FakePackager, live_playlist

pytestmark = pytest.mark.e2e

TARGET = 4  # held requests give up after 3 × 4 s: far beyond what these tests wait


def get(url: str, timeout: float = 20):
    """(status, headers, body, seconds) for a GET, 4xx/5xx included."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read(), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read(), time.monotonic() - started


@pytest.fixture
def packager(stack):
    made = FakePackager(Path(stack.env["MEDIA_ROOT"]) / "hls", f"st-{uuid.uuid4().hex[:16]}", "720p",
                        stack.env["REDIS_URL"])
    made.write(live_playlist(first_msn=40, segments=12, parts=2, target=TARGET))
    made.write_part(52, 0)
    made.write_part(52, 1)
    yield made
    made.close()


def from_app(headers) -> bool:
    """Every response of the app carries its CSP; nginx's static files do not."""
    return headers.get("Content-Security-Policy") is not None


def test_parts_are_static_files_and_plain_playlists_the_apps_fresh_ones(stack, packager):
    base = f"{stack.base_url}/hls/{packager.name}/720p"
    status, headers, body, _ = get(f"{base}/p52.0.m4s")
    assert status == 200 and not from_app(headers) and body == b"part-bytes"
    assert "immutable" in headers["Cache-Control"]
    for query in ("", "?foo=1", "?x_HLS_msn=52", "?v=_HLS_msn="):
        # No next part comes: after 1.5 part targets (0.375 s here), the playlist as it stands.
        status, headers, body, seconds = get(f"{base}/index.m3u8{query}")
        assert status == 200 and from_app(headers), query
        assert headers["Cache-Control"] == "no-cache"
        assert body.decode() == (packager.dir / "index.m3u8").read_text()
        assert seconds < 3, query


def test_a_plain_playlist_request_through_nginx_is_held_for_the_next_part(stack, packager):
    packager.write(live_playlist(first_msn=40, segments=12, parts=2, part_duration=1.0, target=TARGET))
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(get, f"{stack.base_url}/hls/{packager.name}/720p/index.m3u8")
        time.sleep(0.5)
        assert not held.done()
        newer = live_playlist(first_msn=40, segments=12, parts=3, part_duration=1.0, target=TARGET)
        packager.write(newer, announce=(52, 2))
        status, headers, body, seconds = held.result(timeout=10)
    assert status == 200 and from_app(headers) and body.decode() == newer and seconds < 1.4


def test_playlists_with_directives_are_answered_by_the_app(stack, packager):
    base = f"{stack.base_url}/hls/{packager.name}/720p/index.m3u8"
    status, headers, body, seconds = get(f"{base}?_HLS_msn=52&_HLS_part=1")
    assert status == 200 and from_app(headers) and seconds < 1
    assert headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    assert headers["Cache-Control"] == "no-cache"
    assert body.decode() == (packager.dir / "index.m3u8").read_text()
    status, headers, body, _ = get(f"{base}?_HLS_skip=YES")
    assert status == 200 and from_app(headers)
    assert b"#EXT-X-SKIP:SKIPPED-SEGMENTS=" in body
    for query in ("_HLS_part=1", "_HLS_msn=99", "_HLS_msn=52&_HLS_skip=NO"):
        status, headers, _, seconds = get(f"{base}?{query}")
        assert status == 400 and from_app(headers) and seconds < 1, query
    status, _, _, _ = get(f"{stack.base_url}/hls/st-0000000000000000/720p/index.m3u8?_HLS_msn=1")
    assert status == 404


def test_a_held_reload_through_nginx_is_answered_on_the_announcement(stack, packager):
    url = f"{stack.base_url}/hls/{packager.name}/720p/index.m3u8?_HLS_msn=52&_HLS_part=2"
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(get, url)
        time.sleep(1.0)
        assert not held.done()
        newer = live_playlist(first_msn=40, segments=12, parts=3, target=TARGET)
        # Written but not announced: a live subscriber does not poll, so the request stays held.
        packager.write(newer)
        time.sleep(0.5)
        assert not held.done(), "the held reload was answered without an announcement (polling?)"
        packager.write(newer, announce=(52, 2))
        announced = time.monotonic()
        status, headers, body, _ = held.result(timeout=10)
    assert time.monotonic() - announced < 1
    assert status == 200 and from_app(headers) and body.decode() == newer
    assert "HLS part announcements unavailable" not in stack.log_text()


def test_a_hinted_part_is_held_until_written(stack, packager):
    base = f"{stack.base_url}/hls/{packager.name}/720p"
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(get, f"{base}/p52.2.m4s")  # the playlist's EXT-X-PRELOAD-HINT
        time.sleep(0.5)
        assert not held.done()
        packager.write_part(52, 2, b"hinted")
        packager.write(live_playlist(first_msn=40, segments=12, parts=3, target=TARGET), announce=(52, 2))
        status, headers, body, _ = held.result(timeout=10)
    assert status == 200 and body == b"hinted"
    assert headers["Content-Type"] == "video/mp4"
    status, _, _, seconds = get(f"{base}/p52.7.m4s")  # missing and not hinted
    assert status == 404 and seconds < 1


def test_hundreds_of_held_reloads_are_answered_together_and_the_app_stays_responsive(stack, packager):
    url = f"{stack.base_url}/hls/{packager.name}/720p/index.m3u8?_HLS_msn=52&_HLS_part=2"
    count = 200
    with ThreadPoolExecutor(max_workers=count) as pool:
        held = [pool.submit(get, url, 30) for _ in range(count)]
        time.sleep(2.0)  # all of them reach the app and wait
        assert not any(future.done() for future in held)
        status, _, _, seconds = get(f"{stack.base_url}/healthz")
        assert status == 200 and seconds < 1, f"/healthz took {seconds:.2f} s with {count} reloads held"
        packager.write(live_playlist(first_msn=40, segments=12, parts=3, target=TARGET), announce=(52, 2))
        announced = time.monotonic()
        results = [future.result(timeout=15) for future in held]
        answered_within = time.monotonic() - announced
    assert [result[0] for result in results] == [200] * count
    assert all(b'URI="p52.2.m4s"' in result[2] for result in results)
    print(f"{count} held reloads answered {answered_within:.3f} s after the announcement; healthz {seconds:.3f} s")
    assert answered_within < 1.5, f"{count} held reloads took {answered_within:.2f} s after the announcement"
