"""Form POSTs through nginx to the app, spaced as a person clicks: does any get a 5xx?

Run against the box `make run` started (site on :8080):

    .venv/bin/python bench/keepalive.py [--count 300] [--url http://127.0.0.1:8080]

Sends `--count` POSTs of the sign-in form (with its CSRF token, as a browser does) one at a time
exactly 2 s apart, then `--count` more at random 1.5-3 s intervals: the spacing at which nginx's
reuse of an idle upstream connection met gunicorn closing it (its default 2 s keep-alive) and
24 of 300 POSTs got a 502 (issue 14). tests/e2e/test_keepalive.py shows the same race in seconds.
Any answer below 500 is fine (a wrong password is a 200 with the form again, a 429 a throttle).
Prints `fixed_2s_5xx=`, `random_5xx=`, and `posts_5xx=` last.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import time

import requests


def csrf_session(url: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(f"{url}/login", timeout=10)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if page.status_code != 200 or not found:
        sys.exit(f"no sign-in form at {url}/login (HTTP {page.status_code})")
    return session, found.group(1)


def post_spaced(url: str, intervals: list[float], label: str) -> int:
    """POST after each interval (start to start); the number of 5xx answers and failures."""
    session, token = csrf_session(url)
    failed = 0
    next_at = time.monotonic()
    for n, interval in enumerate(intervals):
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
        try:
            status = session.post(f"{url}/login", timeout=10, allow_redirects=False,
                                  data={"csrf_token": token, "login": "keepalive-bench",
                                        "password": "not the password"}).status_code
        except requests.RequestException as error:
            status, failed = None, failed + 1
            print(f"keepalive: {label} POST {n}: {error}", file=sys.stderr)
        else:
            if status >= 500:
                failed += 1
                print(f"keepalive: {label} POST {n}: HTTP {status}", file=sys.stderr)
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    rng = random.Random(14)
    fixed = post_spaced(args.url, [2.0] * args.count, "fixed 2 s")
    spread = post_spaced(args.url, [rng.uniform(1.5, 3.0) for _ in range(args.count)], "random 1.5-3 s")
    print(f"posts={2 * args.count}")
    print(f"fixed_2s_5xx={fixed}")
    print(f"random_5xx={spread}")
    print(f"posts_5xx={fixed + spread}")


if __name__ == "__main__":
    main()
