"""Glass-to-glass latency: from the publisher's clock burnt into the picture to the frame on screen.

Run against the box `make run` started (site on :8080, RTMP on :1935):

    .venv/bin/python bench/latency.py [--classic] [--player hls|shaka|site] [--seconds 60]
                                      [--join-after 0] [--url http://127.0.0.1:8080]
                                      [--rtmp rtmp://127.0.0.1:1935/live] [--channel bench_latency]

By default the bench channel streams in low latency (LL-HLS: ~0.33 s parts, blocking playlist
reload); `--classic` switches it to normal latency (classic HLS, 1 s segments, no parts) first,
so the two can be compared on the same box. The mode is the channel's own setting
(`flask channels latency NAME low|normal`), set before the broadcast starts.

The publisher (ffmpeg, 1280x720 at 30 fps, pushed in real time with -re) draws the time of day in
centiseconds as a row of 24 black and white boxes, one per bit, using drawbox timeline
expressions: each frame shows the moment ffmpeg read it, which is the capture time. Headless
Chromium plays the channel and once a second reads the boxes from the frame on screen through a
canvas and compares them with its own clock (the same machine's). That is the whole path:
encode, ingest, transcode, package, nginx, player buffer, decode. (hls.js's own `latency` figure
starts at the playlist edge and leaves the encoder and packager out.)

`--player` picks what plays it, on a bare page at the site's origin that loads only the vendored
player (app/static/vendor/), with that player's own low-latency defaults: `hls` (the default),
hls.js as `new Hls({lowLatencyMode: true})`; `shaka`, Shaka Player with nothing configured but
`streaming.lowLatencyMode = true`. `site` opens /c/<channel> instead: our player, tuned, as a
viewer gets it. Prints `player=`, `samples=`, `stalls=`, `playlist=` (LL-HLS or HLS, what the
player got), `glass_to_glass_p95_s=`, and `glass_to_glass_p50_s=` last.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_FILE = ROOT / "var" / "bench" / "latency.json"
VENDOR = ROOT / "app" / "static" / "vendor"
CHROMIUM = "/usr/bin/chromium"
PLAYERS = ("hls", "shaka", "site")
BITS = 24          # centiseconds of the day need 24 bits (8,640,000 < 2**24)
BOX = 40           # px per bit box in the 1280-wide source
LEFT, TOP = 40, 40
FRAME_RATE = 30

# Runs in the page: read the boxes from the frame now on screen and say what time they show.
READ_FRAME = """
([bits, box, left, top]) => {
  const video = document.querySelector('video');
  if (!video || video.readyState < 2 || !video.videoWidth) return null;
  const scale = video.videoWidth / 1280;
  const canvas = window.__latencyCanvas || (window.__latencyCanvas = document.createElement('canvas'));
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0);
  const now = new Date();
  let value = 0;
  for (let i = 0; i < bits; i++) {
    const x = Math.round((left + i * box + box / 2) * scale);
    const y = Math.round((top + box / 2) * scale);
    const [r, g, b] = ctx.getImageData(x, y, 1, 1).data;
    if ((r + g + b) / 3 > 128) value += 2 ** i;
  }
  const midnight = new Date(now); midnight.setHours(0, 0, 0, 0);
  // The player's own figure: how far behind the playlist's live edge it plays.
  const player = window.__player;
  let behind_edge = null;
  if (player && typeof player.latency === 'number') behind_edge = player.latency;
  else if (player && player.getStats) behind_edge = player.getStats().liveLatency;
  const ahead = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0;
  return { shown_cs: value, now_cs: Math.floor((now - midnight) / 10), behind_edge, ahead };
}
"""


# The bare page for --player hls|shaka: the video and the vendored builds, nothing of ours.
BARE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>latency</title></head>
<body style="margin:0"><video muted autoplay playsinline width="1280" height="720"></video>
<script src="/static/vendor/{script}"></script></body></html>"""

# Starts the player on the bare page with its defaults but for low-latency mode.
START_PLAYER = """
async ([player, url]) => {
  const video = document.querySelector('video');
  if (player === 'shaka') {
    shaka.polyfill.installAll();
    const shakaPlayer = window.__player = new shaka.Player();
    await shakaPlayer.attach(video);
    shakaPlayer.configure({ streaming: { lowLatencyMode: true } });
    await shakaPlayer.load(url);
  } else {
    const hls = window.__player = new Hls({ lowLatencyMode: true });
    hls.loadSource(url);
    hls.attachMedia(video);
  }
}
"""


def vendored(pattern: str) -> str:
    """The file name of a vendored build (its version is part of the name)."""
    found = sorted(VENDOR.glob(pattern))
    if not found:
        sys.exit(f"no {pattern} in {VENDOR}")
    return found[-1].name


def log(text: str) -> None:
    print(f"latency: {text}", file=sys.stderr, flush=True)


def flask(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def stream_key(channel: str) -> str:
    """A fresh key for the bench channel, creating the account the first time."""
    ACCOUNT_FILE.parent.mkdir(parents=True, exist_ok=True)
    if not ACCOUNT_FILE.exists():
        password = secrets.token_urlsafe(18)
        made = flask("users", "create", channel, "--password", password)
        if made.returncode != 0 and "taken" not in (made.stdout + made.stderr):
            sys.exit(f"cannot create {channel}: {made.stderr.strip()}")
        ACCOUNT_FILE.write_text(json.dumps({"channel": channel, "password": password}))
        ACCOUNT_FILE.chmod(0o600)
    rotated = flask("channels", "key", channel, "--rotate")
    if rotated.returncode != 0:
        sys.exit(f"cannot make a stream key: {rotated.stderr.strip()}")
    return rotated.stdout.strip().splitlines()[-1]


def clock_filter(midnight_us: int) -> str:
    """Filters that write the wall-clock moment each frame is read, in centiseconds of the day,
    as BITS boxes (white = 1).

    The moment comes from the frame itself (setpts's RTCTIME, microseconds since the epoch, as
    the filter sees the frame), not from "when we started ffmpeg + t": ffmpeg's start-up, the RTMP
    connect and the publish hook would otherwise count as latency."""
    parts = ["settb=1/1000", f"setpts=(RTCTIME-{midnight_us})/1000",
             f"drawbox=x={LEFT - 8}:y={TOP - 8}:w={BITS * BOX + 16}:h={BOX + 16}:color=black:t=fill"]
    for bit in range(BITS):
        parts.append(
            f"drawbox=x={LEFT + bit * BOX}:y={TOP}:w={BOX}:h={BOX}:color=white:t=fill:"
            f"enable='eq(mod(floor(t*100/{2 ** bit}),2),1)'")
    # Timestamps from the same clock, from zero, as OBS stamps frames with its capture clock: a
    # publisher slowed by a busy box then sends fewer frames, not a stream that runs slow.
    parts.append("setpts=PTS-STARTPTS")
    return ",".join(parts)


def publish(rtmp: str, key: str, seconds: int) -> subprocess.Popen:
    # -re paces frames at real time, so the moment a frame is read is its capture time.
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FRAME_RATE}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-vf", clock_filter(round(midnight.timestamp() * 1_000_000)),
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-bf", "0",
         "-b:v", "3000k", "-c:a", "aac", "-b:a", "128k", "-f", "flv", f"{rtmp}/{key}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def renice_browser(niceness: int) -> int:
    """Lower the priority of this bench's Chromium (the viewer's machine is not the server; here
    it shares two cores with the publisher and the transcoder, and a renderer that takes the
    encoder's CPU makes parts late for everyone). Linux keeps a niceness per thread, and Chromium
    raises some of its own threads (media, compositor: -8), so every thread of every Chromium
    process is set. The number of threads reniced."""
    mine, children = os.getpid(), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    done, todo = 0, list(children.get(mine, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            if "chrom" not in (Path("/proc") / str(pid) / "comm").read_text():
                continue
            tasks = [int(task.name) for task in (Path("/proc") / str(pid) / "task").iterdir()]
            # With the kernel's autogroups, niceness ranks threads only within their session;
            # Playwright starts Chromium in a session of its own, which then shares the CPU
            # equally with the whole server. The group's own niceness ranks it against the rest.
            autogroup = Path("/proc") / str(pid) / "autogroup"
            if autogroup.exists():
                autogroup.write_text(str(niceness))
        except OSError:
            continue
        for task in tasks:
            try:
                os.setpriority(os.PRIO_PROCESS, task, niceness)
                done += 1
            except OSError:
                pass
    return done


def wait_live(url: str, channel: str, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urlopen(f"{url}/api/v1/channels/{channel}", timeout=5) as response:
                status = json.loads(response.read())
            if status.get("live") and status.get("hls_url"):
                return status
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"{channel} did not go live within {timeout:.0f} s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long to measure (default 60)")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--rtmp", default="rtmp://127.0.0.1:1935/live")
    parser.add_argument("--channel", default="bench_latency")
    parser.add_argument("--warmup", type=int, default=15, help="seconds of playback before measuring")
    parser.add_argument("--join-after", type=float, default=0.0,
                        help="seconds after the stream goes live before the player joins (default 0: at once; "
                             "most viewers join a stream already running)")
    parser.add_argument("--classic", action="store_true",
                        help="classic HLS with 1 s segments and no parts, for comparison")
    parser.add_argument("--player", choices=PLAYERS, default="hls",
                        help="hls.js (default) or Shaka Player with their own low-latency defaults on a bare "
                             "page, or site: the channel page's tuned player")
    parser.add_argument("--viewer-nice", type=int, default=10,
                        help="niceness for the browser (default 10: the viewer's CPU is not the server's; 0 to share)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    key = stream_key(args.channel)
    mode = flask("channels", "latency", args.channel, "normal" if args.classic else "low")
    if mode.returncode != 0:
        sys.exit(f"cannot set the latency mode: {mode.stderr.strip()}")
    log(mode.stdout.strip().splitlines()[-1])
    with sync_playwright() as p:
        # The viewer's browser starts before the stream, niced from birth: its start-up (a second
        # or two of both cores) and its playback are not the server's work. Started while the
        # stream goes live, it held the encoder up just as the player took its place behind the edge.
        if args.viewer_nice:
            os.setpriority(os.PRIO_PROCESS, 0, args.viewer_nice)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                                          "--no-first-run", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync",
                                          "--autoplay-policy=no-user-gesture-required"])
        # The bench's own probes are evaluated in the page, which our CSP (no eval) would refuse.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = context.new_page()
        parts_fetched = []
        page.on("request", lambda request: re.search(r"/p[0-9]+\.[0-9]+\.m4s$", request.url)
                and parts_fetched.append(request.url))
        if args.player != "site":
            script = vendored("shaka-player-*.compiled.js" if args.player == "shaka" else "hls-*.min.js")
            page.route(f"{args.url}/__bench-player", lambda route: route.fulfill(
                body=BARE_PAGE.format(script=script), content_type="text/html"))
            page.goto(f"{args.url}/__bench-player")
        if args.viewer_nice:
            log(f"{renice_browser(args.viewer_nice)} browser threads at niceness {args.viewer_nice}")
            os.setpriority(os.PRIO_PROCESS, 0, 0)  # the publisher is the creator's, at the server's priority
        publisher = publish(args.rtmp, key, args.seconds + args.warmup + 60)
        try:
            status = wait_live(args.url, args.channel)
            time.sleep(args.join_after)
            if args.player == "site":
                page.goto(f"{args.url}/c/{args.channel}")
            else:
                page.evaluate(START_PLAYER, [args.player, urljoin(args.url + "/", status["hls_url"])])
            page.wait_for_function("document.querySelector('video') && document.querySelector('video').currentTime > 1",
                                   timeout=60_000)
            if args.viewer_nice:  # again: the GPU and media processes come once the video plays
                log(f"{renice_browser(args.viewer_nice)} browser threads at niceness {args.viewer_nice}")
            page.evaluate("""() => { window.__stalls = 0; window.__measuring = false;
                document.querySelector('video').addEventListener('waiting', () => {
                  if (window.__measuring) window.__stalls += 1; }); }""")
            if args.player == "site":
                page.click("[data-stats-toggle]")  # the overlay says whether parts (LL-HLS) are in use
            log(f"playing; warming up {args.warmup} s")
            time.sleep(args.warmup)
            page.evaluate("window.__measuring = true")
            samples: list[float] = []
            behind_edge: list[float] = []  # the player's own latency figure: from the playlist's edge
            buffered: list[float] = []     # seconds buffered ahead of the frame on screen
            for _ in range(args.seconds):
                reading = page.evaluate(READ_FRAME, [BITS, BOX, LEFT, TOP])
                if reading:
                    delay = (reading["now_cs"] - reading["shown_cs"]) / 100
                    if delay < -1:  # midnight passed between the frame and now
                        delay += 86400
                    if 0 <= delay < 60:
                        samples.append(delay)
                        if isinstance(reading.get("behind_edge"), (int, float)) and reading["behind_edge"] > 0:
                            behind_edge.append(reading["behind_edge"])
                        buffered.append(reading["ahead"])
                    else:
                        log(f"unreadable frame (read {reading['shown_cs']}, now {reading['now_cs']})")
                time.sleep(1)
            stalls = page.evaluate("window.__stalls")
            if args.player == "site":
                mode = page.evaluate("""() => { const h = document.querySelector('[data-stat=mode]');
                    return h ? h.textContent : ''; }""")
            else:
                mode = "LL-HLS" if parts_fetched else "HLS"
        finally:
            publisher.terminate()
            try:
                publisher.wait(10)
            except subprocess.TimeoutExpired:
                publisher.kill()
        browser.close()
    if len(samples) < args.seconds // 2:
        sys.exit(f"only {len(samples)} readable frames out of {args.seconds}")
    print(f"player={args.player}")
    print(f"samples={len(samples)}")
    print(f"glass_to_glass_min_s={min(samples):.2f}")
    print(f"glass_to_glass_max_s={max(samples):.2f}")
    print(f"stalls={stalls}")
    if behind_edge:
        # Glass to glass minus this is the pipeline: capture to the playlist's edge.
        print(f"player_behind_edge_p50_s={statistics.median(behind_edge):.2f}")
    print(f"buffered_ahead_p50_s={statistics.median(buffered):.2f}")
    print(f"playlist={mode or 'unknown'}")
    print(f"glass_to_glass_p95_s={percentile(samples, 0.95):.2f}")
    print(f"glass_to_glass_p50_s={statistics.median(samples):.2f}")


if __name__ == "__main__":
    main()
