"""K creators go live at once while a viewer waits on each channel page: seconds from each
publisher's start until its video plays in Chromium (issue 13's "done when").

Run from the project folder against the box `make run` started:

    .venv/bin/python bench/go_live.py [-k 5] [--width 390] [--url http://127.0.0.1:8080]

It reuses bench/concurrency.py's accounts (bench_cc_1 ... bench_cc_K, fresh keys each run), its
pre-encoded 720p30 source (2 s keyframes, pushed with `ffmpeg -re -c copy`) and waits, like it,
until the channels' earlier sessions have ended. Then it opens /c/<slug> for every channel in
headless Chromium (one page each, phone width by default, the offline card showing), starts the K
publishers together and polls every page until its <video> has played 0.2 s. Prints a line per
stream (what the API says it got) and `played_in_chromium_max_s=` last.
"""
from __future__ import annotations

import argparse
import subprocess
import time

import requests
from concurrency import channel_status, publisher_args, source_file, stream_key, wait_sessions_ended
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
PLAY_TIMEOUT = 30.0
PLAYED_SCRIPT = "() => { const v = document.querySelector('video'); return v ? v.currentTime : 0 }"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--publishers", type=int, default=5)
    parser.add_argument("--width", type=int, default=390)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--rtmp", default="rtmp://127.0.0.1:1935/live")
    args = parser.parse_args()
    names = [f"bench_cc_{i}" for i in range(1, args.publishers + 1)]
    keys = {name: stream_key(name) for name in names}
    source = source_file()
    wait_sessions_ended(args.url, names)
    played: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=CHROMIUM_ARGS)
        pages = {}
        for name in names:
            context = browser.new_context(viewport={"width": args.width, "height": 844})
            pages[name] = context.new_page()
            pages[name].goto(f"{args.url}/c/{name}")
        time.sleep(3)  # every page has loaded, asked the API once and joined its chat room
        started = time.monotonic()
        publishers = [subprocess.Popen(publisher_args(source, args.rtmp, keys[name]), stdin=subprocess.DEVNULL)
                      for name in names]
        try:
            while len(played) < len(names) and time.monotonic() - started < PLAY_TIMEOUT:
                for name, page in pages.items():
                    if name not in played and (page.evaluate(PLAYED_SCRIPT) or 0) > 0.2:
                        played[name] = time.monotonic() - started
                time.sleep(0.05)
            http = requests.Session()
            modes = {name: (channel_status(http, args.url, name) or {}).get("mode") for name in names}
        finally:
            for publisher in publishers:
                publisher.terminate()
            browser.close()
    for name in names:
        print(f"stream name={name} played_s={played.get(name, float('nan')):.2f} mode={modes[name]}")
    print(f"played={len(played)}/{len(names)}")
    print(f"played_in_chromium_max_s={max(played.values()) if len(played) == len(names) else float('nan'):.2f}")


if __name__ == "__main__":
    main()
