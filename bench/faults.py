"""What each fault costs: the fault suite (tests/faults) run on its own box, every fault's viewing
gap and recording loss printed as figures.

Run: .venv/bin/python bench/faults.py [-k EXPR]. Starts the box exactly as the suite does (every
Procfile process under supervisord, its own Redis, random ports; Redis and PostgreSQL
for the test database need to answer as for `make test`), keeps one creator live through an
OBS-like publisher that reconnects after 2 s, injects each fault in turn and measures, from a
viewer polling the first rendition through nginx, the longest wait for a new part
(`<fault>_viewing_gap_s=`) and the publisher's frames missing from the recording (its frames
carry their number; `<fault>_recording_lost_s=`, in seconds). Where the publisher had to
reconnect, its file starts again at frame 0, so that loss is wall time less media recorded, its
own absence included.
Prints `worst_viewing_gap_s=` and `worst_recording_loss_s=` last. The suite's assertions still
apply: a fault over its bound fails the run (exit 1), figures printed all the same.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"fault=(?P<name>.+?) viewing_gap_s=(?P<gap>[-0-9.]+) recording_lost_s=(?P<lost>[-0-9.]+)")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="not form_posts", help="which faults (pytest -k; default: all of them)")
    args = parser.parse_args()
    run = subprocess.run([sys.executable, "-m", "pytest", "tests/faults", "-m", "faults", "-s", "-q",
                          "-p", "no:cacheprovider", "-k", args.k], cwd=ROOT, capture_output=True, text=True)
    found = [m.groupdict() for m in LINE.finditer(run.stdout)]
    if not found:
        print(run.stdout[-3000:] + run.stderr[-3000:], file=sys.stderr)
        return 1
    for fault in found:
        print(f"{slug(fault['name'])}_viewing_gap_s={float(fault['gap']):.2f}")
        print(f"{slug(fault['name'])}_recording_lost_s={max(0.0, float(fault['lost'])):.2f}")
    if run.returncode:
        failures = [line for line in run.stdout.splitlines() if line.startswith(("FAILED", "E   "))]
        print("some fault went over its bound:\n" + "\n".join(failures[:40]), file=sys.stderr)
    print(f"worst_viewing_gap_s={max(float(f['gap']) for f in found):.2f}")
    print(f"worst_recording_loss_s={max(max(0.0, float(f['lost'])) for f in found):.2f}")
    return 1 if run.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
