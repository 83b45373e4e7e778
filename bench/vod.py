"""How long the VOD job takes to turn a recording into a VOD, against the bare minimum.

Run: .venv/bin/python bench/vod.py [--minutes N]. Records N minutes (default 10) of an 854x480
test pattern through the real LL-HLS packagers (480p and 360p, as a live broadcast would leave
them; cached in var/bench/), then times, on the local storage backend and a throwaway SQLite
database:
- ours: `workers.vod.build_vod` (6 s HLS VOD segments of every rung, the MP4, poster, sprites,
  the VOD row), and
- bare: one `ffmpeg -c copy -movflags +faststart` of the top rung's recording into an MP4, the
  least any VOD pipeline must do.
Prints both, the VOD job's seconds per hour of video, and `vod_build_ratio=<ours/bare>` last.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.media.encoder import X264, Encoder  # noqa: E402 - needs the sys.path line above
from app.media.ffmpeg_args import filter_graph, ll_output_args, ll_target_duration, part_plan  # noqa: E402 - needs the sys.path line above
from app.media.ladder import Source, ladder_for  # noqa: E402 - needs the sys.path line above
from app.media.llladder import LadderPackager  # noqa: E402 - needs the sys.path line above

RUNGS = ladder_for(Source(854, 480, 30))
SOURCE = "testsrc2=size=854x480:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]"


def record(out: Path, seconds: int) -> Path:
    """A recording as a live host leaves it (packagers with record=True)."""
    if (out / "done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    plans = [part_plan(rung.fps) for rung in RUNGS]
    ladder = LadderPackager(out, RUNGS, plans, target_duration=ll_target_duration(RUNGS, plans))
    fds = ladder.open_pipes()
    graph = filter_graph(RUNGS, Encoder(X264), 30, thumbnail=False)
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-t", str(seconds),
            "-f", "lavfi", "-i", SOURCE,
            "-filter_complex", graph.text]
    for video, rung, plan, fd in zip(graph.rungs, RUNGS, plans, fds):
        args += ll_output_args(video, rung, plan, fd, has_audio=True, preset="ultrafast")
    process = subprocess.Popen(args, pass_fds=fds)
    ladder.start()
    if process.wait() != 0:
        sys.exit("ffmpeg failed to make the recording")
    ladder.finish()
    (out / "done").touch()
    return out


def bare_remux(recording: Path, into: Path) -> float:
    # The init section and every segment as one input (the recording playlist has no ENDLIST
    # yet, so ffmpeg's HLS reader would wait for more, as for a live stream).
    rung = recording / RUNGS[0].name
    lines = (rung / "recording.m3u8").read_text().splitlines()
    init = next(line.split('URI="', 1)[1].split('"', 1)[0] for line in lines if line.startswith("#EXT-X-MAP"))
    files = [str(rung / init)] + [str(rung / line) for line in lines if line and not line.startswith("#")]
    began = time.perf_counter()
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-i", "concat:" + "|".join(files), "-c", "copy",
                    "-movflags", "+faststart", str(into / "bare.mp4")], check=True)
    return time.perf_counter() - began


def build(recording: Path, work: Path) -> tuple[float, float]:
    """Seconds the VOD job took, and the VOD's duration."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth.services import create_account
    from app.extensions import db
    from app.live.state import RECORDING_MANIFEST, new_internal_name
    from app.models import VOD, StreamSession, utcnow
    from workers import context, vod
    from workers.live.finish import recording_manifest

    media = work / "media"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'bench.db'}",
                      "MEDIA_ROOT": str(media), "STORAGE_ROOT": str(work / "objects"),
                      "RQ_QUEUE": f"bench-{int(time.time())}", "SECRET_KEY": "bench",
                      "SOCKETIO_USE_QUEUE": False})
    context._app = app
    with app.app_context():
        upgrade()
        user = create_account("benchvod", "benchvod@example.com", "a long bench password", date(1990, 1, 1))
        name = new_internal_name()
        shutil.copytree(recording, media / "hls" / name, ignore=shutil.ignore_patterns("done"))
        now = utcnow()
        session = StreamSession(channel=user.channel, internal_name=name, status="ended",
                                started_at=now - timedelta(hours=1), ended_at=now)
        db.session.add(session)
        db.session.commit()
        out = media / "hls" / name
        (out / RECORDING_MANIFEST).write_text(json.dumps(recording_manifest(session, out)))
        began = time.perf_counter()
        vod_id = vod.build_vod(session.id)
        took = time.perf_counter() - began
        return took, db.session.get(VOD, vod_id).duration_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    recording = record(ROOT / "var" / "bench" / f"vod-recording-{args.minutes}min", args.minutes * 60)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        bare = bare_remux(recording, work)
        ours, duration = build(recording, work)
    print(f"recording: {duration:.0f} s, rungs {'/'.join(r.name for r in RUNGS)}")
    print(f"bare remux of the top rung to a faststart MP4: {bare:.2f} s")
    print(f"VOD job (HLS VOD of every rung, MP4, poster, sprites, row): {ours:.2f} s "
          f"= {ours / duration * 3600:.0f} s per hour of video")
    print(f"vod_build_ratio={ours / bare:.2f}")


if __name__ == "__main__":
    main()
