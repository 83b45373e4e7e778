"""RQ job: assemble a finished session's recording into a VOD, store it, then record it.

`build_vod(session_id)` (enqueued by app.jobs.enqueue_vod once finish_session has written
`recording.json`) turns the session's live output into, under `vods/<session id>/`:
every rung as an HLS VOD (~6 s segments joined from the ~1 s live ones, no re-encode), an MP4
of the top rung (stream copy, faststart), a poster, seek-preview sprites with a WebVTT track,
and a master playlist. Only once every object is stored does it create the (private) VOD row,
then it deletes the live output.

Safe to run again at any point: the keys depend only on the recording, a run that finds no
VOD row first clears whatever an earlier, killed run left under the prefix, and a session
with a VOD row gets its id back (and its leftover live output deleted).

Redis key: cascade:vod:{session id}:lock — held by the one run building that session's VOD,
refreshed while it works, so a run killed with SIGKILL frees it within VOD_LOCK_SECONDS.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg
from flask import current_app
from redis.exceptions import LockError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db, get_redis
from app.jobs import VOD_STAGE
from app.live.state import RECORDING_MANIFEST, hls_dir
from app.mature import services as mature_content
from app.media import ffmpeg_args
from app.media import vod as media
from app.media.fmp4 import parse_init
from app.media.probe import probe
from app.models import VOD, StreamSession
from app.models.vod import VISIBILITY_PRIVATE, vod_prefix
from app.storage.backends import ObjectMissing, get_storage
from workers.context import app_context
from workers.lifetime import die_with_parent

log = logging.getLogger(__name__)

LOCK_KEY = "cascade:vod:{}:lock"
# Tunables, overridable through app config (tests shorten them).
DEFAULTS = {
    # The lock's TTL; a working run refreshes it every third of that. Short, because a killed
    # run's lock holds up RQ's retry (10 s later) until it expires.
    "VOD_LOCK_SECONDS": 30,
    "VOD_LOCK_WAIT": 120.0,        # how long a second run waits for the first, then fails (RQ retries)
    "VOD_UPLOAD_THREADS": 8,       # objects stored at once (boto3 clients are thread-safe)
}
# A rung whose recording is this much shorter than the longest lost its encoder mid-broadcast
# (a lighter ladder after a restart): switching to it would jump, so the VOD leaves it out.
COVERAGE_SLACK = 2.0
# The MP4's duration (ffprobe) may differ from the playlists' by this much before it is reported.
PROBE_TOLERANCE = 1.0


class VodBusy(RuntimeError):
    """Another run holds the session's lock; raising lets RQ retry this one later."""


def _tunable(name: str):
    """One of DEFAULTS, from the app's config when it sets it, as the type of its default."""
    return type(DEFAULTS[name])(current_app.config.get(name, DEFAULTS[name]))


def build_vod(session_id: int) -> int | None:
    """Build the VOD of an ended session; returns the VOD's id, or None when there is no
    recording to build from (the channel does not record, or it is gone)."""
    session_id = int(session_id)
    with app_context():
        ttl = _tunable("VOD_LOCK_SECONDS")
        lock = get_redis().lock(LOCK_KEY.format(session_id), timeout=ttl,
                                blocking_timeout=_tunable("VOD_LOCK_WAIT"), thread_local=False)
        if not lock.acquire():
            raise VodBusy(f"session {session_id}: another VOD job is still building it")
        keeper = LockKeeper(lock, every=max(1.0, ttl / 3))
        keeper.start()
        try:
            return VodBuild(session_id, keeper).run()
        finally:
            keeper.stop()
            try:
                lock.release()
            except LockError:
                pass  # it expired; whoever holds it now keeps it
            db.session.rollback()


class LockKeeper(threading.Thread):
    """Refreshes the session's lock while the build runs; notes when it was lost."""

    def __init__(self, lock, every: float) -> None:
        super().__init__(daemon=True, name="vod-lock")
        self.lock = lock
        self.every = every
        self.lost = False
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.every):
            try:
                self.lock.reacquire()
            except LockError:
                self.lost = True
                return
            except Exception:  # a Redis blip: the next refresh may work
                log.warning("cannot refresh a VOD job lock", exc_info=True)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)


@dataclass
class Rendition:
    """One rung of the VOD being built: where its files are and how they group."""

    name: str
    directory: Path
    live: list[media.LiveSegment]
    inits: list[str] = field(default_factory=list)
    segments: list[media.VodSegment] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # VOD segment name -> bytes
    width: int = 0
    height: int = 0
    codecs: str = ""
    frame_rate: float | None = None

    @property
    def duration(self) -> float:
        return media.playlist_duration(self.segments)

    def source(self, name: str) -> Path:
        return self.directory / name

    def runs(self) -> list[tuple[Path, list[Path], float]]:
        """(init section, live segment files, duration) of each run, for ffmpeg."""
        return [(self.source(self.inits[run[0].init]),
                 [self.source(name) for segment in run for name in segment.sources],
                 sum(segment.duration for segment in run))
                for run in media.runs_of(self.segments)]


class VodBuild:
    """One run of build_vod for one session (inside the app context, holding the lock)."""

    def __init__(self, session_id: int, keeper: LockKeeper) -> None:
        self.session_id = session_id
        self.keeper = keeper
        self.storage = get_storage()
        self.prefix = vod_prefix(session_id)
        self.clock = time.monotonic()
        self.name = ""

    # --- the steps -----------------------------------------------------------------------------

    def run(self) -> int | None:
        session = db.session.get(StreamSession, self.session_id)
        if session is None:
            log.info("session %s: gone; no VOD to build", self.session_id)
            return None
        self.name = session.internal_name
        existing = db.session.scalar(select(VOD.id).where(VOD.session_id == self.session_id))
        if existing is not None:
            log.info("session %s (%s): VOD %s exists already; clearing the live output",
                     self.session_id, self.name, existing)
            self.remove_live_output()
            return existing
        if session.status != "ended":
            log.info("session %s (%s): still open; no VOD yet", self.session_id, self.name)
            return None
        details = {
            "channel_id": session.channel_id,
            "title": (session.title or session.channel.title or "")[:140],
            **mature_content.inherited_content(session.channel),  # the channel's flag and labels
            "renditions": list(session.renditions or []),
            "started_at": session.started_at,
            "ended_at": session.ended_at,
        }
        db.session.rollback()  # no transaction stays open through minutes of media work

        work_root = Path(current_app.config["MEDIA_ROOT"]) / "work"
        work_root.mkdir(parents=True, exist_ok=True)
        for stale in work_root.glob(f"vod-{self.session_id}-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a killed run's scratch (we hold the lock)
        work = Path(tempfile.mkdtemp(prefix=f"vod-{self.session_id}-", dir=work_root))
        try:
            self.progress("finding the recording")
            found = self.find_recording(work)
            if found is None:
                log.info("session %s (%s): no recording found; no VOD", self.session_id, self.name)
                return None
            recording, directory = found
            vod_id = self.assemble(recording, directory, work, details)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.remove_live_output()
        return vod_id

    def find_recording(self, work: Path) -> tuple[media.Recording, Path] | None:
        """The recording and the directory holding its rung folders: the live output on this
        host, else (S3) a copy downloaded from `hls/<name>/` into `work`."""
        local = hls_dir(current_app.config, self.name)
        if (local / RECORDING_MANIFEST).is_file():
            return self.check(self.parse((local / RECORDING_MANIFEST).read_bytes())), local
        if self.storage.name != "s3":
            return None
        remote = f"hls/{self.name}/"
        try:
            raw = self.storage.get_bytes(remote + RECORDING_MANIFEST)
        except ObjectMissing:
            return None
        recording = self.check(self.parse(raw))
        directory = work / "recording"
        jobs = []
        for rung in recording.rungs:
            (directory / rung.name).mkdir(parents=True, exist_ok=True)
            jobs += [(f"{remote}{rung.name}/{name}", directory / rung.name / name) for name in rung.files]

        def fetch(key: str, path: Path) -> None:
            try:
                self.storage.get_file(key, path)
            except ObjectMissing:
                path.unlink(missing_ok=True)  # left out like a segment missing on disk

        self.run_all(fetch, jobs)
        log.info("session %s (%s): recording downloaded from storage (%d files)",
                 self.session_id, self.name, len(jobs))
        return recording, directory

    def parse(self, raw: bytes) -> media.Recording:
        try:
            return media.read_manifest(json.loads(raw))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise media.BadRecording(f"session {self.session_id}: recording.json is not JSON") from exc

    def check(self, recording: media.Recording) -> media.Recording:
        if recording.session_id != self.session_id or recording.internal_name != self.name:
            raise media.BadRecording(f"session {self.session_id}: recording.json belongs to "
                                     f"session {recording.session_id}")
        return recording

    def assemble(self, recording: media.Recording, directory: Path, work: Path, details: dict) -> int:
        self.progress("grouping segments")
        rungs = self.renditions(recording, directory, details)
        if not rungs:
            raise media.BadRecording(f"session {self.session_id}: the recording has no playable segment")
        top = max(rungs, key=lambda r: (r.height, r.width, sum(r.sizes.values())))
        lowest = min(rungs, key=lambda r: (r.height, r.width, sum(r.sizes.values())))
        duration = top.duration
        interval = media.thumbnail_interval(duration)
        cues = media.thumbnail_cues(duration, interval)

        # A run that finds no VOD row may follow one that was killed: start from an empty prefix,
        # so the VOD's objects are exactly this run's.
        self.storage.delete_prefix(self.prefix)
        stored: dict[str, int] = {}  # key -> bytes
        pool = ThreadPoolExecutor(max_workers=_tunable("VOD_UPLOAD_THREADS"), thread_name_prefix="vod-up")
        try:
            self.progress("storing segments and running ffmpeg")
            uploads = self.upload_media(pool, rungs, stored)
            outputs = self.run_ffmpeg(work, top, lowest, duration, interval)
            probed = self.probe(outputs["mp4"])
            if abs(probed - duration) > PROBE_TOLERANCE:
                log.warning("session %s (%s): the MP4 lasts %.2f s but the playlists %.2f s",
                            self.session_id, self.name, probed, duration)
            sprites = sorted(outputs["sprites"].glob("sprite-*.jpg"),
                             key=lambda p: int(p.stem.split("-")[1]))
            cues = [cue for cue in cues if cue.sprite < len(sprites)]
            extra = [(media.DOWNLOAD_NAME, outputs["mp4"])] + [(p.name, p) for p in sprites]
            if outputs["poster"].is_file():
                extra.append((media.POSTER_NAME, outputs["poster"]))
            uploads += [pool.submit(self.put_file, self.prefix + name, path, stored) for name, path in extra]
            self.wait_all(uploads)

            # Playlists last: a reader never finds one naming an object not yet stored.
            self.progress("storing playlists")
            playlists = [(f"{rung.name}/{media.PLAYLIST_NAME}", media.media_playlist(rung.segments))
                         for rung in rungs]
            if cues:
                playlists.append((media.THUMBNAILS_NAME, media.thumbnails_vtt(cues)))
            self.wait_all([pool.submit(self.put_bytes, self.prefix + name, text.encode(), stored)
                           for name, text in playlists])
            self.put_bytes(self.prefix + media.MASTER_NAME,
                           media.vod_master_playlist(self.variants(rungs)).encode(), stored)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

        if self.keeper.lost:
            raise VodBusy(f"session {self.session_id}: lost the VOD lock while building; retrying")
        vod_id = self.record(details, duration, top, stored, has_poster=outputs["poster"].is_file(),
                             has_cues=bool(cues))
        log.info("session %s (%s): VOD %s ready: %.1f s, %d rungs (%s), %d objects, %.1f MB, "
                 "built in %.1f s", self.session_id, self.name, vod_id, duration, len(rungs),
                 "/".join(r.name for r in rungs), len(stored), sum(stored.values()) / 1e6,
                 time.monotonic() - self.clock)
        return vod_id

    def renditions(self, recording: media.Recording, directory: Path, details: dict) -> list[Rendition]:
        """Each rung's live segments grouped into VOD segments, with what the master lists."""
        by_name = {r.get("name"): r for r in (details["renditions"] or recording.renditions)}
        rungs = []
        for files in recording.rungs:
            rung_dir = directory / files.name
            live = self.live_segments(files, rung_dir, details)
            if not live:
                log.warning("session %s (%s): rung %s has no usable segment; left out",
                            self.session_id, self.name, files.name)
                continue
            rung = Rendition(files.name, rung_dir, live)
            rung.inits, rung.segments = media.group_segments(live)
            for segment in rung.segments:
                rung.sizes[segment.name] = sum(rung.source(n).stat().st_size for n in segment.sources)
            init = parse_init(rung.source(rung.inits[0]).read_bytes())
            video = next((t for t in init.tracks if t.is_video), None)
            rung.width, rung.height = (video.width, video.height) if video else (0, 0)
            rung.codecs = init.codecs
            fps = by_name.get(files.name, {}).get("fps")
            rung.frame_rate = float(fps) if isinstance(fps, (int, float)) and fps > 0 else None
            rungs.append(rung)
        if not rungs:
            return []
        longest = max(r.duration for r in rungs)
        kept = sorted((r for r in rungs if r.duration >= longest - COVERAGE_SLACK),
                      key=lambda r: (r.height, r.width), reverse=True)
        for rung in rungs:
            if rung not in kept:
                log.warning("session %s (%s): rung %s covers %.1f of %.1f s; left out of the VOD",
                            self.session_id, self.name, rung.name, rung.duration, longest)
        return kept

    def live_segments(self, files: media.RungFiles, rung_dir: Path, details: dict) -> list[media.LiveSegment]:
        """A rung's segments in order: from its recording playlist (LL-HLS), else measured from
        the fragments themselves (classic HLS keeps no playlist of the whole session)."""
        present = {p.name for p in rung_dir.iterdir() if p.is_file()} if rung_dir.is_dir() else set()
        if files.playlist and files.playlist in present:
            live = media.read_recording_playlist((rung_dir / files.playlist).read_text())
            return media.keep_present(live, {s.name for s in live
                                             if s.name in present and s.init in present})
        inits = {name: parse_init((rung_dir / name).read_bytes()) for name in files.inits if name in present}
        durations = {}
        for name in files.segments:
            init = media.classic_init_for(name, list(inits))
            if name not in present or init is None:
                continue
            try:
                seconds, independent = media.segment_timing((rung_dir / name).read_bytes(), inits[init])
            except ValueError as error:  # cut short (ffmpeg killed mid-write): left out
                log.warning("session %s (%s): a %s segment cannot be read (%s); left out",
                            self.session_id, self.name, files.name, error)
                continue
            if not independent:
                log.warning("session %s (%s): %s segment does not start with a keyframe",
                            self.session_id, self.name, files.name)
            durations[name] = seconds
        return media.classic_segments(files.segments, list(inits), durations,
                                      details["started_at"], details["ended_at"])

    def upload_media(self, pool: ThreadPoolExecutor, rungs: list[Rendition], stored: dict) -> list[Future]:
        futures = []
        for rung in rungs:
            for index, name in enumerate(rung.inits):
                futures.append(pool.submit(self.put_file, f"{self.prefix}{rung.name}/{media.vod_init_name(index)}",
                                           rung.source(name), stored))
            for segment in rung.segments:
                futures.append(pool.submit(self.put_joined, f"{self.prefix}{rung.name}/{segment.name}",
                                           [rung.source(n) for n in segment.sources], stored))
        return futures

    def run_ffmpeg(self, work: Path, top: Rendition, lowest: Rendition, duration: float,
                   interval: int) -> dict:
        """The MP4 and the poster from the top rung, the sprites from the lowest (cheapest to
        decode): three ffmpeg runs at once, next to the uploads."""
        top_script = self.concat_script(work, "top", top)
        low_script = top_script if lowest is top else self.concat_script(work, "low", lowest)
        sprites = work / "sprites"
        sprites.mkdir()
        outputs = {"mp4": work / media.DOWNLOAD_NAME, "poster": work / media.POSTER_NAME, "sprites": sprites}
        commands = {
            "mp4": ffmpeg_args.mp4_args(str(top_script), str(outputs["mp4"])),
            "sprites": ffmpeg_args.sprite_args(str(low_script), str(sprites / "sprite-%d.jpg"), interval),
            "poster": ffmpeg_args.poster_args(str(top_script), media.poster_time(duration), str(outputs["poster"])),
        }
        timeout = 600 + duration
        # A killed job takes its ffmpeg runs with it, so none writes on into a retry's scratch.
        processes = {what: subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, preexec_fn=die_with_parent)
                     for what, args in commands.items()}
        failures = []
        try:
            for what, process in processes.items():
                try:
                    _, errors = process.communicate(timeout=max(1.0, timeout - (time.monotonic() - self.clock)))
                except subprocess.TimeoutExpired:
                    process.kill()
                    _, errors = process.communicate()
                    failures.append(f"{what}: timed out")
                    continue
                if process.returncode != 0:
                    tail = " | ".join(errors.decode(errors="replace").strip().splitlines()[-3:])
                    failures.append(f"{what}: ffmpeg exited with {process.returncode} ({tail or 'no output'})")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
        if failures or not outputs["mp4"].is_file():
            raise RuntimeError(f"session {self.session_id} ({self.name}): " + "; ".join(failures or ["no MP4"]))
        return outputs

    def concat_script(self, work: Path, label: str, rung: Rendition) -> Path:
        runs = []
        for number, (init, segments, seconds) in enumerate(rung.runs()):
            listing = work / f"{label}-run-{number}.txt"
            listing.write_text(ffmpeg_args.run_sources(str(init.resolve()), [str(p.resolve()) for p in segments]))
            runs.append((str(listing), seconds))
        script = work / f"{label}.ffconcat"
        script.write_text(ffmpeg_args.concat_script(runs))
        return script

    def probe(self, path: Path) -> float:
        """The MP4's duration; it must hold H.264 video (and AAC audio when there is audio)."""
        try:
            info = probe(str(path), timeout=60, v="error")
        except ffmpeg.Error as error:
            raise RuntimeError(f"session {self.session_id}: ffprobe cannot read the MP4: "
                               f"{error.stderr.decode(errors='replace').strip()}") from None
        codecs = {s.get("codec_type"): s.get("codec_name") for s in info.get("streams", [])}
        if codecs.get("video") != "h264":
            raise RuntimeError(f"session {self.session_id}: the MP4 has no H.264 video ({codecs})")
        return float(info.get("format", {}).get("duration") or 0.0)

    def variants(self, rungs: list[Rendition]) -> list[media.Variant]:
        variants = []
        for rung in rungs:
            peak, average = media.bandwidths(rung.segments, rung.sizes)
            variants.append(media.Variant(uri=f"{rung.name}/{media.PLAYLIST_NAME}", bandwidth=peak,
                                          average_bandwidth=average, width=rung.width, height=rung.height,
                                          codecs=rung.codecs, frame_rate=rung.frame_rate))
        return variants

    def record(self, details: dict, duration: float, top: Rendition, stored: dict, *,
               has_poster: bool, has_cues: bool) -> int:
        """The VOD row, private; a row made meanwhile by another run wins."""
        first = next((s.started for s in top.segments if s.started is not None), None)
        vod = VOD(channel_id=details["channel_id"], session_id=self.session_id, title=details["title"],
                  object_key=self.prefix + media.MASTER_NAME, storage_prefix=self.prefix,
                  duration_seconds=duration, visibility=VISIBILITY_PRIVATE,
                  thumbnail_key=self.prefix + media.POSTER_NAME if has_poster else None,
                  download_key=self.prefix + media.DOWNLOAD_NAME,
                  thumbnails_key=self.prefix + media.THUMBNAILS_NAME if has_cues else None,
                  size_bytes=sum(stored.values()), started_at=first or details["started_at"],
                  mature=details["mature"], content_labels=details["content_labels"])
        db.session.add(vod)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            existing = db.session.scalar(select(VOD.id).where(VOD.session_id == self.session_id))
            if existing is None:
                raise
            return existing
        return vod.id

    def remove_live_output(self) -> None:
        """The live segments are the VOD's now: drop them from disk and, on S3, the bucket."""
        shutil.rmtree(hls_dir(current_app.config, self.name), ignore_errors=True)
        if self.storage.name == "s3":
            self.storage.delete_prefix(f"hls/{self.name}/")

    # --- small pieces ----------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, stored: dict) -> None:
        self.storage.put_file(key, path)
        stored[key] = path.stat().st_size

    def put_bytes(self, key: str, data: bytes, stored: dict) -> None:
        self.storage.put_bytes(key, data)
        stored[key] = len(data)

    def put_joined(self, key: str, paths: list[Path], stored: dict) -> None:
        """One VOD segment: its live segments' bytes end to end (read here, on the pool's
        thread, so only the segments being stored are in memory)."""
        self.put_bytes(key, b"".join(path.read_bytes() for path in paths), stored)

    def run_all(self, func, jobs) -> None:
        pool = ThreadPoolExecutor(max_workers=_tunable("VOD_UPLOAD_THREADS"), thread_name_prefix="vod-io")
        try:
            self.wait_all([pool.submit(func, *job) for job in jobs])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def wait_all(futures: list[Future]) -> None:
        """Wait for every future; the first failure is raised (the pool's shutdown then
        cancels what has not started)."""
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if (error := future.exception()) is not None:
                raise error

    def progress(self, stage: str) -> None:
        """Save the stage in the job's meta (run outside RQ, as tests do, there is no job)."""
        from rq import get_current_job

        job = get_current_job()
        if job is not None:
            job.meta[VOD_STAGE] = stage  # the video manager shows it (app.vods.services.processing_notice)
            job.save_meta()
