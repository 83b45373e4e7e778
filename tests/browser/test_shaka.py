"""Shaka Player 5, and hls.js beside it, play every kind of stream the box serves, in Chromium.

The whole box runs (tests/e2e/conftest.py: nginx-rtmp, gunicorn, the live host, the VOD worker) with
real RTMP publishers: an LL-HLS channel played in Shaka's low-latency and standard modes and in
hls.js, a normal-latency (classic HLS) channel, and the VOD a short recorded broadcast becomes.
The players run on a page only these tests serve (Playwright answers it at the box's own origin,
so the vendored builds, the playlists and the VOD's access check are the box's), each watched for
WATCH_SECONDS after it has settled: the picture must keep moving at the stream's frame rate, with
no stall over STALL_LIMIT, no player error and no failed request.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import log_in
from tests.conftest import wait_for
from tests.e2e.conftest import require_tool, stack, stack_env  # noqa: F401 - fixtures
from tests.e2e.test_live import api, flask
from tests.e2e.test_storage_nginx import logged_in

# `alone`: the stall and frame-rate limits measure the players, and beside another stack's encoders
# on this 2-core box they measured the CPU instead (a 2.9 s stall at 25 frames/s in CI, stop 29).
pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.alone]

PASSWORD = "a long enough pass"
VENDOR = Path(__file__).resolve().parents[2] / "app" / "static" / "vendor"
SHAKA = next(VENDOR.glob("shaka-player-*.compiled.js")).name
HLS_JS = next(VENDOR.glob("hls-*.min.js")).name
FPS = 30
WATCH_SECONDS = 20
SETTLE_SECONDS = 4  # players start, then seek to their live point: measure after that
STALL_LIMIT = 1.0
FRAME_SHARE = 0.9  # of FPS: frames dropped from the buffer freeze the picture, not the clock
VOD_SECONDS = 12
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>players</title></head>
<body><video muted autoplay playsinline width="640" height="360"></video>
<script src="/static/vendor/{SHAKA}"></script>
<script src="/static/vendor/{HLS_JS}"></script></body></html>"""

# Attaches a player to the page's video with `config` (Shaka's configure() or hls.js's constructor
# options; {} keeps every default) and samples the video every 100 ms.
PLAY = """
async ([kind, url, config]) => {
  const video = document.querySelector('video');
  const watch = window.__watch = { errors: [], samples: [], ended: false };
  video.addEventListener('ended', () => { watch.ended = true; });
  setInterval(() => {
    watch.samples.push([performance.now() / 1000, video.currentTime,
                        video.getVideoPlaybackQuality().totalVideoFrames]);
  }, 100);
  if (kind === 'shaka') {
    shaka.polyfill.installAll();
    const player = window.__player = new shaka.Player();
    player.addEventListener('error', (event) =>
      watch.errors.push(`Shaka error ${event.detail.code}: ${JSON.stringify(event.detail.data).slice(0, 300)}`));
    await player.attach(video);
    player.configure(config);
    await player.load(url);
  } else {
    const hls = window.__player = new Hls(config);
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) watch.errors.push(`hls.js fatal ${data.type}: ${data.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }
}
"""


@dataclass
class Channel:
    slug: str
    key: str
    publisher: subprocess.Popen | None = None

    def hls_url(self, stack) -> str:  # noqa: F811 - the stack fixture's value, passed in
        return wait_for(lambda: (status := api(stack, self.slug))["live"] and status["hls_url"], 30,
                        f"{self.slug} to go live")


@dataclass
class Watched:
    """What a player did over the watch: samples of (seconds, currentTime, frames shown)."""

    samples: list[tuple[float, float, int]]
    errors: list[str]
    ended: bool
    failed_requests: list[str]
    requests: list[str] = field(default_factory=list)

    @property
    def played(self) -> float:
        return self.samples[-1][1] - self.samples[0][1]

    @property
    def longest_stall(self) -> float:
        """The longest time the playhead stood still."""
        longest, since, position = 0.0, self.samples[0][0], self.samples[0][1]
        for moment, current, _ in self.samples[1:]:
            if current > position + 1e-3:
                since, position = moment, current
            longest = max(longest, moment - since)
        return longest

    @property
    def stall_at(self) -> float:
        """Seconds into the watch at which the longest stall began."""
        longest, since, position, at = 0.0, self.samples[0][0], self.samples[0][1], self.samples[0][0]
        for moment, current, _ in self.samples[1:]:
            if current > position + 1e-3:
                since, position = moment, current
            if moment - since > longest:
                longest, at = moment - since, since
        return at - self.samples[0][0]

    @property
    def frame_rate(self) -> float:
        (start, _, first), (end, _, last) = self.samples[0], self.samples[-1]
        return (last - first) / (end - start)

    def describe(self) -> str:
        return (f"played {self.played:.1f} s, longest stall {self.longest_stall:.2f} s "
                f"(from {self.stall_at:.1f} s in), "
                f"{self.frame_rate:.1f} frames/s, errors {self.errors}, failed {self.failed_requests}")


def publish(stack, key: str, *, size: str, seconds: int, log: Path) -> subprocess.Popen:  # noqa: F811 - likewise
    """A test pattern with a tone, pushed over RTMP in real time (keyframes every 2 s, as OBS)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
             "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(2 * FPS),
             "-c:a", "aac", "-f", "flv", f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{key}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def creator(stack, slug: str, latency: str = "low") -> Channel:  # noqa: F811 - likewise
    flask(stack, "users", "create", slug, "--password", PASSWORD)
    flask(stack, "channels", "latency", slug, latency)
    return Channel(slug, flask(stack, "channels", "key", slug, "--rotate").strip().splitlines()[-1])


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def on_air(stack, tmp_path_factory, slug: str, *, size: str, seconds: int, latency: str = "low"):  # noqa: F811 - the stack fixture's value, passed in
    """A new creator `slug` broadcasting a test pattern for `seconds`, stopped when the block ends."""
    channel = creator(stack, slug, latency)
    channel.publisher = publish(stack, channel.key, size=size, seconds=seconds,
                                log=tmp_path_factory.mktemp(slug) / "publisher.log")
    try:
        yield channel
    finally:
        stop(channel.publisher)


@pytest.fixture(scope="module")
def live(stack, tmp_path_factory):  # noqa: F811 - pytest passes the imported fixture
    """The LL-HLS channel, on air for the whole module and alone while the LL-HLS tests play it."""
    with on_air(stack, tmp_path_factory, "shakalive", size="854x480", seconds=900) as channel:
        yield channel


@pytest.fixture(scope="module")
def recorded(stack, tmp_path_factory):  # noqa: F811 - pytest passes the imported fixture
    """A short broadcast that becomes a VOD while the classic HLS tests run (the VOD job waits out
    the publisher's reconnect grace first). Not beside the LL-HLS tests: its publisher and ladder on
    this 2-core box starved the LL channel's encoder, and Shaka's low-latency join stalled for 3 s
    on late parts (CI, stops 28 and 29; reproduced with one core kept busy)."""
    with on_air(stack, tmp_path_factory, "shakavod", size="640x360", seconds=VOD_SECONDS) as channel:
        yield channel


@pytest.fixture(scope="module")
def classic(stack, live, tmp_path_factory):  # noqa: F811 - pytest passes the imported fixture
    """A normal-latency channel: classic HLS (ffmpeg's muxer), on air from its first test on. The
    LL-HLS tests are over by then: their channel goes off air to leave the CPU to this one's."""
    stop(live.publisher)
    with on_air(stack, tmp_path_factory, "shakaclassic", size="640x360", seconds=900,
                latency="normal") as channel:
        yield channel


def watch(browser, base_url: str, url: str, kind: str, config: dict, *, seconds: float = WATCH_SECONDS,
          owner: str | None = None, until_ended: bool = False) -> Watched:
    """Play `url` in `kind` (shaka or hls.js) on the test page and watch it for `seconds` once it
    has settled (or until it ends); `owner` logs in first (a private VOD)."""
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        if owner:
            log_in(page, owner, PASSWORD)
        page.route(f"{base_url}/__players", lambda route: route.fulfill(body=PAGE, content_type="text/html"))
        seen: list[str] = []
        failed: list[str] = []
        page.on("request", lambda request: seen.append(request.url))
        page.on("response", lambda response: response.status >= 400 and failed.append(
            f"{response.status} {response.url}"))
        page.on("pageerror", lambda error: failed.append(f"page error: {error}"))
        page.goto("/__players")
        try:
            page.evaluate(PLAY, [kind, base_url + url, config])
        except Exception as error:  # noqa: BLE001 - Playwright's Error, with the page's stack
            pytest.fail(f"{kind} could not load {url}: {error}\nrequests: {seen}\nfailed: {failed}")
        wait_for(lambda: page.evaluate("document.querySelector('video').currentTime > 0"), 30,
                 f"{kind} to start playing {url}",
                 lambda: str(page.evaluate("window.__watch.errors") + failed))
        page.wait_for_timeout(SETTLE_SECONDS * 1000)
        first = len(page.evaluate("window.__watch.samples"))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            page.wait_for_timeout(500)
            if until_ended and page.evaluate("window.__watch.ended"):
                break
        state = page.evaluate("window.__watch")
        samples = state["samples"][first:]
        if state["ended"]:  # the watch is over where the playhead stopped for good
            samples = samples[:next(i for i, sample in enumerate(samples) if sample[1] >= samples[-1][1]) + 1]
        return Watched(samples, state["errors"], state["ended"], failed, seen)
    finally:
        context.close()


def check(watched: Watched, *, seconds: float = WATCH_SECONDS, frame_share: float = FRAME_SHARE) -> None:
    print(watched.describe())
    assert watched.errors == [], watched.describe()
    assert watched.failed_requests == [], watched.describe()
    assert watched.longest_stall <= STALL_LIMIT, watched.describe()
    assert watched.played >= 0.9 * seconds, watched.describe()
    assert watched.frame_rate >= frame_share * FPS, watched.describe()


def check_shaka_low_latency(watched: Watched) -> None:
    """check(), unless Shaka 5.2.12's low-latency bug was at work in this watch.

    Shaka 5.2.12 adds 1 ms to a negative timestampOffset when it sets it (an old Edge workaround),
    then compares the offset it computes for each append with that value: 1 ms apart, it calls
    SourceBuffer.abort() before the append, and MSE drops the part's frames up to the next keyframe.
    Fixed upstream by shaka-project/shaka-player#10559, in no 5.x release yet (5.2.12 is npm's
    newest on 2026-12-07). A negative offset comes whenever the media's timestamps are ahead of
    Shaka's timeline: a viewer joining once the window has moved on, and now and then one joining
    a stream that has just gone live. Mostly no stall and no error: the sound and the clock go on,
    the picture freezes for the rest of the GOP. But the dropped frames are a hole in the muxed
    buffer, and now and then playback waits at it until Shaka jumps the gap (CI: a 2.90 s stall at
    16.9 frames/s on air; a 2.80 s stall at 25.7 frames/s just after going live, alone). So with
    the bug at work (frames missing), errors and failed requests still fail the test; the stall
    and the frame rate are the bug's. No page of ours loads Shaka (see app/static/vendor/README.md).
    """
    if watched.frame_rate < FRAME_SHARE * FPS:
        assert watched.errors == [] and watched.failed_requests == [], watched.describe()
        pytest.xfail(f"Shaka 5.2.12 drops parts' frames in low-latency mode (shaka-player#10559): "
                     f"{watched.describe()}")
    check(watched)


def parts(watched: Watched) -> list[str]:
    return [url for url in watched.requests if re.search(r"/p[0-9]+\.[0-9]+\.m4s$", url)]


def blocking_reloads(watched: Watched) -> list[str]:
    return [url for url in watched.requests if ".m3u8?" in url and "_HLS_msn=" in url]


def test_shaka_low_latency_mode_joins_a_stream_that_has_just_gone_live(browser, stack, live):  # noqa: F811 - pytest passes the imported fixture
    # The first seconds: a playlist of a segment or two (Shaka looks into the segments for
    # captions unless the master denies them, and its search failed on a part-only segment).
    watched = watch(browser, stack.base_url, live.hls_url(stack), "shaka",
                    {"streaming": {"lowLatencyMode": True}})
    assert parts(watched) and blocking_reloads(watched), "low-latency mode follows parts and blocking reloads"
    check_shaka_low_latency(watched)


def test_hls_js_plays_ll_hls_from_parts(browser, stack, live):  # noqa: F811 - pytest passes the imported fixture
    watched = watch(browser, stack.base_url, live.hls_url(stack), "hls.js",
                    {"lowLatencyMode": True})
    assert parts(watched) and blocking_reloads(watched)
    check(watched)


def test_shaka_standard_mode_plays_ll_hls_from_segments(browser, stack, live):  # noqa: F811 - pytest passes the imported fixture
    watched = watch(browser, stack.base_url, live.hls_url(stack), "shaka",
                    {"streaming": {"lowLatencyMode": False}})
    assert not parts(watched), "standard mode plays whole segments"
    check(watched)


def test_shaka_low_latency_mode_plays_a_stream_on_air_for_a_while(browser, stack, live):  # noqa: F811 - pytest passes the imported fixture
    url = live.hls_url(stack)
    master = requests.get(stack.base_url + url, timeout=5).text
    rung = next(line for line in master.splitlines() if line.endswith(".m3u8"))
    media_playlist = f"{stack.base_url}{url.rsplit('/', 1)[0]}/{rung}"
    # Joined once the window has moved on, as most viewers do: the media's timestamps are then
    # ahead of the player's timeline, which gives Shaka a negative timestampOffset (see
    # check_shaka_low_latency).
    sequence = re.compile(r"#EXT-X-MEDIA-SEQUENCE:(\d+)")
    wait_for(lambda: int(sequence.search(requests.get(media_playlist, timeout=5).text)[1]), 60,
             "the playlist window to move on")
    watched = watch(browser, stack.base_url, url, "shaka", {"streaming": {"lowLatencyMode": True}})
    assert parts(watched) and blocking_reloads(watched)
    check_shaka_low_latency(watched)


@pytest.mark.parametrize("kind", ["shaka", "hls.js"])
def test_classic_hls_plays(browser, stack, classic, recorded, kind):  # noqa: F811 - pytest passes the imported fixture
    watched = watch(browser, stack.base_url, classic.hls_url(stack), kind, {})
    assert not parts(watched) and not blocking_reloads(watched)
    check(watched)


def test_shaka_plays_a_vod_to_the_end(browser, stack, recorded):  # noqa: F811 - pytest passes the imported fixture
    owner = logged_in(stack, "shakavod")

    def vod_url() -> str | None:
        items = owner.get(f"{stack.base_url}/api/v1/channels/shakavod/vods", timeout=10).json()["items"]
        return items[0]["hls_url"] if items else None

    url = wait_for(vod_url, 120, "the recorded broadcast's VOD", lambda: stack.log_text()[-3000:])
    watched = watch(browser, stack.base_url, url, "shaka", {}, seconds=VOD_SECONDS + 10, owner="shakavod",
                    until_ended=True)
    assert watched.ended, watched.describe()
    played = VOD_SECONDS - SETTLE_SECONDS - 1  # from where the watch began to the end
    check(watched, seconds=played)
