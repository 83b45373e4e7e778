"""RQ jobs of a live transcode: run and supervise the session's ffmpeg, then keep or drop its output.

Redis keys (all carry the session id, never a stream key):
  cascade:stream:{id}:stats    JSON encoder stats for the dashboard, TTL 5 s, refreshed every second
  cascade:stream:{id}:worker   the running job's token (heartbeat and single-runner lock), TTL 10 s
  cascade:stream:{id}:requeue  set while a supervisor-enqueued restart waits for a worker
  cascade:supervisor:{queue}:chain  held while the self-rescheduling supervise_sessions chain exists
"""
from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.extensions import db, get_redis
from app.jobs import enqueue_in, enqueue_transcode, enqueue_vod
from app.media.encoder import detect_encoder
from app.hls.services import announcement, channel as hls_channel
from app.media.atomic import write_atomic
from app.media.ffmpeg_args import (
    FFMPEG_MASTER_NAME,
    MASTER_NAME,
    PLAYLIST_NAME,
    THUMBNAIL_SECONDS,
    ll_target_duration,
    ll_transcode_args,
    part_plan,
    transcode_args,
)
from app.media.hls import fix_master_playlist
from app.media.ladder import Source, ladder_for, lighter
from app.media.llhls import RECORDING, end_playlist
from app.media.llladder import LadderPackager
from app.media.mirror import LIVE_PREFIX, DirectorySync, live_mirror, sync_directory
from app.media.storage import get_storage
from app.models import Channel, StreamSession, utcnow
from app.models.channel import LATENCY_NORMAL
from workers.context import app_context
from workers.relay import PullRelay

log = logging.getLogger(__name__)

# seg_<n>.m4s from ffmpeg's HLS muxer (classic), s<msn>.m4s from our LL-HLS packager.
SEGMENT_FILE = re.compile(r"(?:seg_|s)([0-9]+)\.m4s")
INIT_FILE = re.compile(r"init-([0-9]+)(?:-[^/]*)?\.mp4")  # init-<n>-<rung>.mp4 (classic), init-<msn>.mp4
STATS_KEY = "cascade:stream:{}:stats"
WORKER_KEY = "cascade:stream:{}:worker"
REQUEUE_KEY = "cascade:stream:{}:requeue"
SUPERVISOR_KEY = "cascade:supervisor:{}:chain"
STATS_TTL = 5
HEARTBEAT_TTL = 10
HEARTBEAT_EVERY = 3
SUPERVISE_EVERY = 10
RECONNECT_GRACE = 30  # seconds; the hook side owns the timer, we only stop waiting after it

# Tunables, overridable through app config (tests shorten them).
DEFAULTS = {
    "TRANSCODE_PULL_WAIT": 20.0,        # seconds to wait for the stream to become pullable
    "TRANSCODE_MAX_RESTARTS": 5,        # consecutive ffmpeg failures before the job gives up
    "TRANSCODE_HEADROOM_WARMUP": 10.0,  # seconds after start before speed counts
    "TRANSCODE_HEADROOM_WINDOW": 12.0,  # how long speed must stay low before going lighter
    "TRANSCODE_MIN_SPEED": 0.95,        # ffmpeg's speed= below this is "not keeping up"
}
# A run that lasted this long was healthy: its exit starts a fresh count of failures.
HEALTHY_RUN = 30.0


def _setting(name: str):
    return type(DEFAULTS[name])(current_app.config.get(name, DEFAULTS[name]))


def hls_dir(internal_name: str) -> Path:
    return Path(current_app.config["MEDIA_ROOT"]) / "hls" / internal_name


def work_dir(internal_name: str) -> Path:
    """Scratch files of a transcode that viewers never fetch (the thumbnail ffmpeg rewrites)."""
    return Path(current_app.config["MEDIA_ROOT"]) / "work" / internal_name


def pull_url(internal_name: str) -> str:
    return current_app.config["INGEST_PULL_URL"].format(
        rtmp_port=current_app.config["RTMP_PORT"], name=internal_name)


def thumbnail_key(channel_id: int) -> str:
    return f"thumbnails/{channel_id}/live.jpg"


# --- pieces that need no database or Redis --------------------------------------------------


def source_from_probe(info: dict) -> Source | None:
    """The source's size, frame rate and audio from `ffprobe -show_streams` JSON."""
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and s.get("width")), None)
    if video is None:
        return None
    fps = 0.0
    for field in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(video.get(field) or "0/0").partition("/")
        try:
            value = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if 1 <= value <= 240:
            fps = value
            break
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    return Source(int(video["width"]), int(video["height"]), fps or 30.0, has_audio)


class HeadroomWatch:
    """Decides when ffmpeg has been slower than real time for long enough to go lighter."""

    def __init__(self, started: float, warmup: float, window: float, min_speed: float) -> None:
        self.started, self.warmup, self.window, self.min_speed = started, warmup, window, min_speed
        self.samples: collections.deque[tuple[float, float]] = collections.deque()
        self.first_sample: float | None = None

    def add(self, now: float, speed: float) -> None:
        if now - self.started < self.warmup:
            return  # the first seconds drain the ingest buffer and say nothing about headroom
        if self.first_sample is None:
            self.first_sample = now
        self.samples.append((now, speed))
        while self.samples and now - self.samples[0][0] > self.window:
            self.samples.popleft()

    def too_slow(self, now: float) -> bool:
        # A judgement needs a whole window of samples (not merely time since start).
        if self.first_sample is None or now - self.first_sample < self.window or len(self.samples) < 3:
            return False
        speeds = [speed for _, speed in self.samples]
        slow = sum(1 for speed in speeds if speed < self.min_speed)
        # Most of the window slow, on average too: a few seconds' dip (a scene change, a
        # neighbour's burst of CPU) is not a reason to give up quality.
        return (slow >= 0.8 * len(speeds) and sum(speeds) / len(speeds) < self.min_speed
                and speeds[-1] < self.min_speed)

    def mean(self) -> float | None:
        return sum(s for _, s in self.samples) / len(self.samples) if self.samples else None


def parse_speed(value: str | None) -> float | None:
    try:
        return float(str(value).strip().rstrip("x"))
    except (TypeError, ValueError):
        return None


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def thumbnail_padding(progress: dict, fps: float) -> int:
    """Duplicates the thumbnail output gets (30 s worth of frames, less the pick, at every
    pick after the first), which are not the stream's: ffmpeg counts all outputs together."""
    seconds = _int(progress.get("out_time_us")) / 1e6
    return int(seconds // THUMBNAIL_SECONDS) * max(0, round(THUMBNAIL_SECONDS * fps) - 1)


def rung_kbps(rung_dir: Path, last: int = 3) -> int | None:
    """Measured bitrate of a rung from its newest segments on disk (ffmpeg reports no per-rung rate)."""
    try:
        lines = (rung_dir / PLAYLIST_NAME).read_text().splitlines()
    except (FileNotFoundError, OSError):
        return None
    entries, duration = [], None
    for line in lines:
        if line.startswith("#EXTINF:"):
            duration = parse_speed(line[8:].split(",")[0])
        elif line and not line.startswith("#") and duration:
            entries.append((line.strip(), duration))
            duration = None
    bits = seconds = 0.0
    for name, length in entries[-last:]:
        try:
            bits += (rung_dir / name).stat().st_size * 8
            seconds += length
        except OSError:
            continue
    return int(bits / seconds / 1000) if seconds else None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL ffmpeg if the job's process dies (a killed RQ work
    horse), so a restarted job never finds an orphan still writing the same playlists."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class FfmpegRun:
    """One ffmpeg process in its own process group, with its -progress output parsed on a thread."""

    def __init__(self, args: list[str], pass_fds: tuple[int, ...] = (),
                 relay: PullRelay | None = None) -> None:
        self.args = args
        self.started = time.monotonic()
        self.latest: dict[str, str] = {}
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.relay = relay  # input on stdin (`-i pipe:0`), from the stream's first frame
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE if relay else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True, preexec_fn=_die_with_parent,
                                        pass_fds=pass_fds)
        if relay is not None:
            relay.feed(self.process.stdin)
        self._threads = [threading.Thread(target=self._read_progress, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_progress(self) -> None:
        """Keep the latest -progress block, adding `rate`: media seconds encoded per wall second
        since the previous block. ffmpeg's own `speed` averages over the whole run, so it
        would notice a slowdown late (and a recovery later still)."""
        block: dict[str, str] = {}
        previous: tuple[float, int] | None = None
        for raw in self.process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            block[key] = value.strip()
            if key == "progress":
                now = time.monotonic()
                out_us = block.get("out_time_us", "")
                if out_us.lstrip("-").isdigit():
                    if previous is not None and now - previous[0] >= 0.5:
                        block["rate"] = f"{(int(out_us) - previous[1]) / 1e6 / (now - previous[0]):.3f}"
                    if previous is None or now - previous[0] >= 0.5:
                        previous = (now, int(out_us))
                self.latest = block
                block = {}

    def _read_errors(self) -> None:
        for raw in self.process.stderr:
            self.tail.append(raw.decode(errors="replace").rstrip())

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self, timeout: float = 8.0) -> int | None:
        """SIGINT first (ffmpeg finishes the segment and writes ENDLIST), then SIGKILL the group."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.process.wait()
        if self.relay is not None:
            self.relay.stop()
        for thread in self._threads:
            thread.join(timeout=2)
        self.process.stdout.close()
        self.process.stderr.close()
        return code


# --- the job ----------------------------------------------------------------------------------


class Transcode:
    """The state of one transcode_session job."""

    def __init__(self, session: StreamSession) -> None:
        self.session_id = session.id
        self.channel_id = session.channel_id
        self.name = session.internal_name
        self.record = bool(session.channel.record)
        # LL-HLS unless the creator chose normal latency (classic HLS); read once per job, so a
        # change applies from the next broadcast.
        self.low_latency = session.channel.latency_mode != LATENCY_NORMAL
        self.ladder: LadderPackager | None = None
        # With STORAGE_BACKEND=s3 the output also goes to the bucket as it is written (LL-HLS:
        # by the packagers; classic: by a thread that follows ffmpeg's directory).
        self.mirror = live_mirror(current_app.config)
        self.sync: DirectorySync | None = None
        self.announce_failed = False
        self.redis = get_redis()
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.encoder = detect_encoder()
        self.out = hls_dir(self.name)
        self.work = work_dir(self.name)
        self.thumb = self.work / "thumb.jpg"
        self.source: Source | None = None
        self.relay: PullRelay | None = None  # the probe's pull, until an ffmpeg takes it
        self.step = 0
        self.plan = None
        self.run: FfmpegRun | None = None
        self.restarts = 0
        self.failures = 0
        self.note = ""
        self.state = "starting"
        self.master_done = False
        self.thumb_seen: tuple[int, int] | None = None
        self.thumb_digest: bytes | None = None
        self.rung_rates: dict[str, int | None] = {}
        self.rates_at = 0.0
        self.heartbeat_at = 0.0
        # RQ runs a job in a work horse in its own session: when the worker is killed the horse
        # lives on as an orphan. Noticing that lets the job stop its ffmpeg and leave the
        # session to the supervisor (the heartbeat key expires, another worker takes over).
        self.parent_pid = os.getppid()

    # Redis -------------------------------------------------------------------------------------

    def claim(self) -> bool:
        return bool(self.redis.set(WORKER_KEY.format(self.session_id), self.token, nx=True,
                                   ex=HEARTBEAT_TTL))

    def heartbeat(self, force: bool = False) -> bool:
        """Refresh our lock; False when another job took the session over or our worker died
        (we then stop)."""
        if os.getppid() != self.parent_pid:
            log.warning("session %s (%s): the worker that ran this job is gone; stopping",
                        self.session_id, self.name)
            return False
        now = time.monotonic()
        if not force and now - self.heartbeat_at < HEARTBEAT_EVERY:
            return True
        key = WORKER_KEY.format(self.session_id)
        holder = self.redis.get(key)
        if holder is not None and holder.decode() != self.token:
            return False
        self.redis.set(key, self.token, ex=HEARTBEAT_TTL)
        self.heartbeat_at = now
        return True

    def release(self) -> None:
        key = WORKER_KEY.format(self.session_id)
        holder = self.redis.get(key)
        if holder is not None and holder.decode() == self.token:
            self.redis.delete(key)

    def write_stats(self) -> None:
        progress = self.run.latest if self.run else {}
        now = time.monotonic()
        if self.plan and self.state == "running" and now - self.rates_at >= 2:
            self.rung_rates = {r.name: rung_kbps(self.out / r.name) for r in self.plan.rungs}
            self.rates_at = now
        rungs = [{"name": r.name, "width": r.width, "height": r.height, "fps": r.fps,
                  "target_kbps": r.video_kbps, "kbps": self.rung_rates.get(r.name)}
                 for r in (self.plan.rungs if self.plan else ())]
        stats = {
            "session_id": self.session_id,
            "internal_name": self.name,
            "state": self.state,
            "encoder": self.encoder.name,
            "preset": self.plan.preset if self.plan else None,
            "ladder": rungs,  # [{name, width, height, fps, target_kbps, kbps (measured)}]
            "fps": parse_speed(progress.get("fps")),
            # Real-time factor over the last second, and ffmpeg's average since this run began.
            "speed": parse_speed(progress.get("rate")) or parse_speed(progress.get("speed")),
            "speed_avg": parse_speed(progress.get("speed")),
            "frame": int(progress["frame"]) if progress.get("frame", "").isdigit() else None,
            "drop_frames": _int(progress.get("drop_frames")),
            "dup_frames": max(0, _int(progress.get("dup_frames"))
                              - thumbnail_padding(progress, self.source.fps if self.source else 30)),
            "restarts": self.restarts,
            "headroom_step": self.step,
            "note": self.note,
            "ffmpeg_pid": self.run.pid if self.run and self.run.poll() is None else None,
            "updated_at": utcnow().isoformat(),
        }
        self.redis.set(STATS_KEY.format(self.session_id), json.dumps(stats), ex=STATS_TTL)

    # Database ----------------------------------------------------------------------------------

    def status(self) -> tuple[str | None, object]:
        db.session.rollback()  # a fresh snapshot: the hooks change the row under us
        row = db.session.execute(select(StreamSession.status, StreamSession.publisher_left_at)
                                 .where(StreamSession.id == self.session_id)).first()
        return (row[0], row[1]) if row else (None, None)

    def save_renditions(self) -> None:
        session = db.session.get(StreamSession, self.session_id)
        if session is None:
            return
        session.renditions = [
            {**rung.as_dict(), "playlist": f"{rung.name}/{PLAYLIST_NAME}", "encoder": self.encoder.name,
             "preset": self.plan.preset, "headroom_step": self.step, "note": self.note,
             "delivery": "ll-hls" if self.low_latency else "hls"}
            for rung in self.plan.rungs
        ]
        db.session.commit()

    def publish_thumbnail(self) -> None:
        try:
            st = self.thumb.stat()
        except FileNotFoundError:
            return
        seen = (st.st_mtime_ns, st.st_size)
        if seen == self.thumb_seen:
            return
        data = self.thumb.read_bytes()
        # ffmpeg rewrites the file in place: take it only when the JPEG is whole.
        if not (data.startswith(b"\xff\xd8") and data.rstrip(b"\0").endswith(b"\xff\xd9")):
            return
        self.thumb_seen = seen
        digest = hashlib.sha256(data).digest()
        if digest == self.thumb_digest:
            return  # the once-a-second padding copy of the same picture
        self.thumb_digest = digest
        key = thumbnail_key(self.channel_id)
        get_storage().put_bytes(key, data, "image/jpeg")
        channel = db.session.get(Channel, self.channel_id)
        if channel is not None and channel.thumbnail_key != key:
            channel.thumbnail_key = key
            db.session.commit()

    # ffmpeg ------------------------------------------------------------------------------------

    def probe(self) -> Source | None:
        """The source, once the ingest server lets us pull it; None while it does not (yet).

        The pull that probes is kept (`self.relay`) and feeds the next ffmpeg, so neither the
        probe nor a wait for the next keyframe costs the recording its first seconds."""
        self.drop_relay()
        relay = PullRelay(pull_url(self.name))
        try:
            source = source_from_probe(relay.probe() or {})
        except (OSError, ValueError, subprocess.SubprocessError):
            source = None
        if source is None:
            relay.stop()
            return None
        self.relay = relay
        return source

    def drop_relay(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

    def take_input(self) -> tuple[str, PullRelay | None]:
        """What the next ffmpeg reads: the probe's pull when there is one (once), else the ingest."""
        relay, self.relay = self.relay, None
        return ("pipe:0", relay) if relay is not None else (pull_url(self.name), None)

    def start(self) -> None:
        self.plan = lighter(ladder_for(self.source), self.step)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        if self.low_latency:
            self.start_low_latency()
        else:
            # Numbers that only grow across restarts, so no run overwrites an earlier run's files.
            start_number = int(time.time() * 10)
            input_url, relay = self.take_input()
            args = transcode_args(input_url, str(self.out), self.plan.rungs,
                                  encoder=self.encoder, preset=self.plan.preset,
                                  has_audio=self.source.has_audio, source_fps=self.source.fps,
                                  record=self.record, thumbnail_path=str(self.thumb),
                                  start_number=start_number)
            self.run = FfmpegRun(args, relay=relay)
            self.master_done = False
            if self.mirror is not None:
                if self.sync is None:
                    self.sync = DirectorySync(self.mirror, self.out, skip={FFMPEG_MASTER_NAME})
                self.sync.start()
        self.state = "running"
        log.info("session %s (%s): ffmpeg %s started: %s on %s, preset %s%s", self.session_id, self.name,
                 self.run.pid, "/".join(r.name for r in self.plan.rungs), self.encoder.name,
                 self.plan.preset, f" ({self.note})" if self.note else "")
        self.save_renditions()

    def start_low_latency(self) -> None:
        """ffmpeg writes each rung's CMAF fragments to a pipe; our packagers (which resume from
        an earlier run's playlists) cut parts and segments and write every playlist and the master."""
        rungs = self.plan.rungs
        plans = [part_plan(rung.fps) for rung in rungs]
        ladder = LadderPackager(self.out, rungs, plans, target_duration=ll_target_duration(rungs, plans),
                                record=self.record, announce=self.announce, mirror=self.mirror)
        fds = ladder.open_pipes()
        input_url, relay = self.take_input()
        args = ll_transcode_args(input_url, rungs, plans, fds, encoder=self.encoder,
                                 preset=self.plan.preset, has_audio=self.source.has_audio,
                                 source_fps=self.source.fps, thumbnail_path=str(self.thumb))
        try:
            self.run = FfmpegRun(args, pass_fds=tuple(fds), relay=relay)
        except OSError:
            ladder.close()
            if relay is not None:
                relay.stop()
            raise
        ladder.start()
        self.ladder = ladder
        self.master_done = True

    def announce(self, rung: str, msn: int, part: int) -> None:
        """Wake the requests held for this part (app.hls). Runs on the packager's threads; without
        Redis they poll the playlist instead, so a failure here must not stop packaging."""
        try:
            self.redis.publish(hls_channel(self.name), announcement(rung, msn, part))
            self.announce_failed = False
        except Exception as error:  # noqa: BLE001 - any Redis error
            if not self.announce_failed:
                log.warning("session %s (%s): cannot announce parts (%s); held requests will poll",
                            self.session_id, self.name, error)
            self.announce_failed = True

    def stop(self, final: bool = False) -> None:
        """Stop ffmpeg; with LL-HLS, close the open segments (`final`: end the playlists too)."""
        self.drop_relay()
        if self.run is not None:
            self.run.stop()
            self.run = None
        if self.sync is not None:
            self.sync.stop()  # one last scan: what ffmpeg wrote as it stopped
        if self.ladder is not None:
            if final:
                self.ladder.finish()
            else:
                self.ladder.close()
            for error in self.ladder.errors:
                log.error("session %s (%s): LL-HLS packaging failed: %s", self.session_id, self.name, error)
            self.ladder = None

    def watch(self) -> str:
        """Tend the running ffmpeg until something needs the job loop: ended, reconnecting,
        exited, too_slow or lost."""
        watch = HeadroomWatch(time.monotonic(), _setting("TRANSCODE_HEADROOM_WARMUP"),
                              _setting("TRANSCODE_HEADROOM_WINDOW"), _setting("TRANSCODE_MIN_SPEED"))
        last_progress = None
        while True:
            if not self.heartbeat():
                return "lost"
            status, _ = self.status()
            if status in (None, "ended"):
                return "ended"
            if status == "reconnecting":
                return "reconnecting"
            if self.run.poll() is not None or (self.ladder is not None and self.ladder.errors):
                return "exited"
            now = time.monotonic()
            progress = self.run.latest
            if progress is not last_progress and (speed := parse_speed(progress.get("rate"))) is not None:
                watch.add(now, speed)
                last_progress = progress
            if watch.too_slow(now) and lighter(ladder_for(self.source), self.step + 1) is not None:
                mean = watch.mean()
                self.step += 1
                next_plan = lighter(ladder_for(self.source), self.step)
                self.note = (f"Encoding ran at {mean:.2f}x real time for {watch.window:.0f} s "
                             f"(dropped frames: {progress.get('drop_frames', '0')}); "
                             f"{next_plan.note}.")
                return "too_slow"
            if not self.master_done:
                self.master_done = fix_master_playlist(self.out / FFMPEG_MASTER_NAME, self.plan.rungs,
                                                       self.source.has_audio, target=self.out / MASTER_NAME)
            self.publish_thumbnail()
            self.write_stats()
            time.sleep(1)

    def wait(self, seconds: float) -> str | None:
        """Sleep while heartbeating; returns the status if it stops being 'live'."""
        deadline = time.monotonic() + seconds
        while True:
            if not self.heartbeat():
                return "lost"
            status, _ = self.status()
            if status != "live":
                return status
            self.write_stats()
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def main(self) -> str:
        pull_deadline = None
        while True:
            if not self.heartbeat():
                return "taken over"
            status, left_at = self.status()
            if status in (None, "ended"):
                return "ended"
            if status == "reconnecting":
                # Keep the session (and its output directory) while the publisher may return.
                # Past the grace period the hook side ends it; we stop waiting so this worker
                # is free to run that very job.
                self.state = "waiting"
                self.source = None
                if left_at is not None and (utcnow() - left_at).total_seconds() > RECONNECT_GRACE + 10:
                    return "publisher gone"
                self.write_stats()
                time.sleep(1)
                continue
            if self.source is None:
                self.state = "waiting"
                pull_deadline = pull_deadline or time.monotonic() + _setting("TRANSCODE_PULL_WAIT")
                self.source = self.probe()
                if self.source is None:
                    if time.monotonic() > pull_deadline:
                        log.warning("session %s (%s): the stream could not be pulled for %.0f s; giving up",
                                    self.session_id, self.name, _setting("TRANSCODE_PULL_WAIT"))
                        return "not pullable"
                    self.write_stats()
                    # The hook queues this job before the ingest server has renamed the stream:
                    # try again soon, or the recording loses its first second.
                    time.sleep(0.25)
                    continue
                pull_deadline = None
                log.info("session %s (%s): source %dx%d at %.2f fps, %s", self.session_id, self.name,
                         self.source.width, self.source.height, self.source.fps,
                         "with audio" if self.source.has_audio else "no audio")
            self.start()
            outcome = self.watch()
            ran_for = time.monotonic() - self.run.started
            code = self.run.poll()
            if outcome in ("ended", "lost"):
                self.stop(final=outcome == "ended")
                return outcome
            if outcome == "too_slow":
                log.warning("session %s (%s): %s", self.session_id, self.name, self.note)
                self.stop()
                self.restarts += 1
                continue
            if outcome == "reconnecting":
                self.stop()
                continue
            # ffmpeg exited on its own while the publisher is connected: restart, bounded.
            tail = " | ".join(list(self.run.tail)[-3:])
            self.stop()
            self.failures = 1 if ran_for >= HEALTHY_RUN else self.failures + 1
            limit = _setting("TRANSCODE_MAX_RESTARTS")
            if self.failures > limit:
                log.error("session %s (%s): ffmpeg failed %d times in a row; giving up (last: %s)",
                          self.session_id, self.name, self.failures, tail or "no output")
                self.note = "The encoder kept failing; it will be retried shortly."
                self.state = "failed"
                self.write_stats()
                return "gave up"
            backoff = min(2 ** (self.failures - 1), 10)
            self.restarts += 1
            log.warning("session %s (%s): ffmpeg exited with %s after %.0f s; restart %d of %d in %d s (%s)",
                        self.session_id, self.name, code, ran_for, self.failures, limit, backoff,
                        tail or "no output")
            self.state = "restarting"
            if self.wait(backoff) is not None:
                continue  # reconnecting or ended: the loop top handles it
            self.source = self.probe() or self.source


def transcode_session(session_id: int) -> str:
    """Run and supervise the session's ffmpeg until the session ends. Safe to run twice: a second
    job for a session whose worker is alive returns at once."""
    with app_context():
        session = db.session.get(StreamSession, session_id)
        if session is None or session.status == "ended":
            return "ended"
        start_supervision()
        job = Transcode(session)
        if not job.claim():
            log.info("session %s (%s): another worker is transcoding it", session_id, job.name)
            return "already running"
        job.redis.delete(REQUEUE_KEY.format(session_id))
        try:
            outcome = job.main()
        finally:
            job.stop()
            if job.state != "failed":
                job.redis.delete(STATS_KEY.format(session_id))
            job.release()
            db.session.rollback()
        log.info("session %s (%s): transcode finished (%s)", session_id, job.name, outcome)
        return outcome


def supervise_sessions(reschedule: bool = False) -> int:
    """Enqueue a transcode for every live session whose worker heartbeat is missing (a dead
    worker). Returns how many it enqueued; with `reschedule`, runs again in ~10 s."""
    with app_context():
        redis = get_redis()
        count = 0
        live = db.session.scalars(select(StreamSession).where(StreamSession.status == "live")).all()
        for session in live:
            if redis.exists(WORKER_KEY.format(session.id)):
                continue
            # One restart at a time per session; the transcode job clears this once it runs.
            if redis.set(REQUEUE_KEY.format(session.id), "1", nx=True, ex=600):
                log.warning("session %s (%s) has no live worker; enqueueing its transcode",
                            session.id, session.internal_name)
                enqueue_transcode(session.id)
                count += 1
        if reschedule:
            redis.set(SUPERVISOR_KEY.format(current_app.config["RQ_QUEUE"]), "1", ex=SUPERVISE_EVERY * 6)
            enqueue_in(timedelta(seconds=SUPERVISE_EVERY), "workers.transcode.supervise_sessions",
                       reschedule=True)
        return count


def start_supervision() -> bool:
    """Start the supervise_sessions chain unless one exists (needs an app context). True if started."""
    redis = get_redis()
    if not redis.set(SUPERVISOR_KEY.format(current_app.config["RQ_QUEUE"]), "1", nx=True,
                     ex=SUPERVISE_EVERY * 6):
        return False
    enqueue_in(timedelta(seconds=SUPERVISE_EVERY), "workers.transcode.supervise_sessions", reschedule=True)
    return True


def recording_manifest(session: StreamSession, out: Path) -> dict:
    """What the VOD job needs: every rung's init sections and segments in order, and with LL-HLS
    the rung's recording playlist (every segment with its init section and discontinuities)."""
    rungs = {}
    for rung_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        numbered = ((int(match[1]), p.name) for p in rung_dir.glob("*.m4s")
                    if (match := SEGMENT_FILE.fullmatch(p.name)))
        segments = [name for _, name in sorted(numbered)]
        numbered_inits = ((int(match[1]), p.name) for p in rung_dir.glob("init-*.mp4")
                          if (match := INIT_FILE.fullmatch(p.name)))
        inits = [name for _, name in sorted(numbered_inits)]
        if segments:
            rungs[rung_dir.name] = {"inits": inits, "segments": segments}
            if (rung_dir / RECORDING).exists():
                rungs[rung_dir.name]["playlist"] = RECORDING
    return {
        "session_id": session.id,
        "channel_id": session.channel_id,
        "internal_name": session.internal_name,
        "started_at": session.started_at.isoformat() if session.started_at else None,
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "renditions": session.renditions,
        "master": MASTER_NAME,
        "rungs": rungs,
    }


def finish_session(session_id: int) -> str:
    """After a session ends: drop its HLS output when the channel does not record, else keep it
    and write `recording.json` beside the playlists. Safe to run twice."""
    with app_context():
        session = db.session.get(StreamSession, session_id)
        if session is None:
            return "missing"
        if session.status != "ended":
            return "still open"
        redis = get_redis()
        # The transcode job may still be finishing its last segment.
        deadline = time.monotonic() + 15
        while redis.exists(WORKER_KEY.format(session_id)) and time.monotonic() < deadline:
            time.sleep(0.5)
        out = hls_dir(session.internal_name)
        mirror = live_mirror(current_app.config)
        shutil.rmtree(work_dir(session.internal_name), ignore_errors=True)
        redis.delete(STATS_KEY.format(session_id), REQUEUE_KEY.format(session_id))
        if not session.channel.record:
            shutil.rmtree(out, ignore_errors=True)
            if mirror is not None:
                mirror.storage.delete_prefix(f"{LIVE_PREFIX}{session.internal_name}/")
            log.info("session %s (%s): output deleted (recording is off)", session_id, session.internal_name)
            return "deleted"
        if not out.is_dir():
            return "nothing recorded"
        for rung_dir in (p for p in out.iterdir() if p.is_dir()):
            # A run the worker could not finish (it died, or the publisher never came back)
            # left its LL-HLS playlist live: end it, and drop the parts the VOD does not need.
            end_playlist(rung_dir)
            for part in rung_dir.glob("p*.m4s"):
                part.unlink(missing_ok=True)
        write_atomic(out / "recording.json",
                     json.dumps(recording_manifest(session, out), indent=1).encode())
        if mirror is not None:
            # The VOD job may run on another host: the bucket gets the ended playlists, the
            # recording lists and manifest, any segment a failed upload left out, and loses the
            # parts (and anything else) no longer on disk.
            counts = sync_directory(mirror, out)
            log.info("session %s (%s): bucket copy complete (%d put, %d deleted)", session_id,
                     session.internal_name, counts["put"], counts["deleted"])
        log.info("session %s (%s): output kept for the recording", session_id, session.internal_name)
        enqueue_vod(session_id)
        return "kept"
