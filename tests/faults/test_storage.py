"""The box on S3 storage, with the store made unreachable for 20 s under a live stream: a black
hole (connections accepted, nothing answered) and refused connections. Viewers watch on from the
live host's disk, no page answers 5xx, uploads are retried, and once the store is back the bucket
holds everything the recording needs (each fault prints `fault=... viewing_gap_s=...` like the
rest of the suite, then `storage fault=... forward_gap_s=... playlist_regressions=...
bucket_live_edge_s=... bucket_caught_up_s=... bucket_recording_lost_s=...`: the viewing gap not
fooled by a stale playlist, how often the viewer was handed one, seconds from the store's return
to a current live playlist and to the whole recording in the bucket, and what of the recording
it still lacks then)."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for

from .conftest import fault

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 20
# Pages and answers a viewer meets while the store is away: none may be a 5xx.
PAGES = ("/", "/directory", "/c/faulty", "/api/v1/channels/faulty", "/healthz")
EXTINF = re.compile(r"#EXTINF:([0-9.]+),\s*\n(?:#[^\n]*\n)*([^#\s][^\n]*)")


@pytest.fixture(scope="module")
def store(s3_server):
    """(the test S3 server as the box reaches it, through a proxy; the proxy; a bucket of the
    module's own, set up as `flask storage init` does; the bucket read directly)."""
    from app.storage.backends import PUBLIC_PREFIXES, S3Storage
    from tests.s3server import behind_proxy

    with behind_proxy(s3_server) as (proxied, proxy):
        bucket = s3_server.new_bucket_name()
        direct = S3Storage(bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                           secret_key=s3_server.secret_key)
        direct.ensure_bucket(PUBLIC_PREFIXES)
        yield proxied, proxy, bucket, direct
        direct.delete_keys(obj.key for obj in direct.list())
        direct.client.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="module")
def box_env(store) -> dict:
    proxied, _, bucket, _ = store
    return proxied.config(bucket)


def recording(text: str) -> list[tuple[float, str]]:
    """(duration, segment) of each segment a recording.m3u8 lists."""
    return [(float(seconds), name.strip()) for seconds, name in EXTINF.findall(text)]


def bucket_playlist_current(box, direct, internal: str, rung: str) -> bool:
    """Whether the bucket's live playlist of `rung` lists the disk's newest segment (or a newer)."""
    from app.media.playlist import parse_media_playlist

    disk = parse_media_playlist((Path(box.env["MEDIA_ROOT"]) / "hls" / internal / rung / "index.m3u8").read_text())
    try:
        stored = parse_media_playlist(direct.get_bytes(f"hls/{internal}/{rung}/index.m3u8").decode())
    except FileNotFoundError:
        return False
    return stored.last_msn >= disk.last_msn


def bucket_recording_lost(box, direct, internal: str) -> float:
    """Seconds the disk's recording holds that the bucket does not: segments its recording list
    lacks, or that are not stored whole (what a VOD job on another host would miss), over every
    rung."""
    lost = 0.0
    out = Path(box.env["MEDIA_ROOT"]) / "hls" / internal
    for rung in (p for p in out.iterdir() if (p / "recording.m3u8").is_file()):
        prefix = f"hls/{internal}/{rung.name}/"
        try:
            listed = {name for _, name in recording(direct.get_bytes(prefix + "recording.m3u8").decode())}
        except FileNotFoundError:
            listed = set()
        sizes = {obj.key: obj.size for obj in direct.list(prefix)}
        for seconds, name in recording((rung / "recording.m3u8").read_text()):
            if name not in listed or sizes.get(prefix + name) != (rung / name).stat().st_size:
                lost += seconds
    return lost


PART_URI = re.compile(r'URI="p([0-9]+)\.([0-9]+)\.m4s"')


def forward_gap(viewer, since: float) -> tuple[float, int]:
    """(the longest wait since `since` for a part newer than any the viewer had seen, how often
    its playlist went back to an older newest part). The Viewer counts any change as a new part;
    a stale playlist (the bucket's, before its upload queue has caught up) is a change too."""
    newest, regressions, times = (-1, -1), 0, [since]
    for seen, line in viewer.seen:
        found = PART_URI.search(line)
        part = (int(found[1]), int(found[2])) if found else (-1, -1)
        if part > newest:
            newest = part
            if seen > since:
                times.append(seen)
        elif seen > since:
            regressions += 1
    times.append(time.monotonic())
    return max(b - a for a, b in zip(times, times[1:])), regressions


class Watch:
    """Pages asked for every 2 s through nginx while the store is away: every status seen."""

    def __init__(self, box, paths) -> None:
        self.box, self.paths = box, paths
        self.statuses: list[tuple[str, int | None]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            for path in self.paths:
                self.statuses.append((path, self.box.get(path, timeout=10)[0]))
            self.stopping.wait(2.0)

    def stop(self) -> list[tuple[str, int | None]]:
        self.stopping.set()
        self.thread.join(timeout=30)
        return [(path, code) for path, code in self.statuses if code is None or code >= 500]


@pytest.mark.parametrize("outage, name", [("go_silent", "S3 silent 20 s"), ("refuse", "S3 refusing 20 s")])
def test_s3_unreachable_for_20_s(box, live, store, outage, name):
    status, _, viewer, _ = live
    _, proxy, _, direct = store
    internal = status["hls_url"].split("/")[2]
    rung = status["renditions"][0]["name"]
    # What nginx gets from the bucket (playlists) or hands the app when the bucket fails.
    watch_paths = PAGES + (status["hls_url"], f"/hls/{internal}/{rung}/index.m3u8")
    wait_for(lambda: bucket_recording_lost(box, direct, internal) <= 1.0, 30, "the bucket to hold the recording")
    errors_before = len(viewer.errors)
    began = time.monotonic()
    with fault(box, live, name, max_gap=6, max_lost=1.0):
        watch = Watch(box, watch_paths)
        getattr(proxy, outage)()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        back = time.monotonic()
        # Normal again: the bucket's live playlist is current (first), and it holds the recording.
        wait_for(lambda: bucket_playlist_current(box, direct, internal, rung), 30,
                 "the bucket's live playlist to be current", lambda: box.log_text())
        live_edge = time.monotonic() - back
        # At most the segment that closed last may still be on its way.
        (lost,) = wait_for(lambda: (found := bucket_recording_lost(box, direct, internal)) <= 1.0 and (found,),
                           30, "the bucket to catch up with the recording", lambda: box.log_text())
        caught_up = time.monotonic() - back
        failed = watch.stop()
    viewer_failed = [code for _, code in viewer.errors[errors_before:] if code is None or code >= 500]
    gap, regressions = forward_gap(viewer, began)
    print(f"storage fault={name} forward_gap_s={gap:.2f} playlist_regressions={regressions} "
          f"bucket_live_edge_s={live_edge:.2f} bucket_caught_up_s={caught_up:.2f} "
          f"bucket_recording_lost_s={lost:.2f} page_errors={len(failed)} viewer_errors={len(viewer_failed)}")
    assert gap <= 6, f"{name}: no part newer than those seen before for {gap:.1f} s"
    assert not failed, f"{name}: answers of 5xx (or none) while the store was away: {failed[:20]}"
    assert not viewer_failed, f"{name}: the viewer's playlist requests failed: {viewer_failed[:20]}"
    assert caught_up <= 10, f"{name}: the bucket took {caught_up:.1f} s to catch up\n{box.log_text()}"
    assert direct.exists(f"hls/{internal}/master.m3u8")
    assert direct.exists(f"hls/{internal}/{rung}/index.m3u8")
