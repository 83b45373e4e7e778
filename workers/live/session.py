"""One live session on a live host: pull, probe, get a rendition set that fits, run ffmpeg and the
packagers, and tend them until the publisher leaves, the session ends or the lease is lost.

A runner holds capacity only while its encoder runs: when the publisher leaves it stops ffmpeg
at once, closes the open segments (the playlists stay live, ready to continue) and gives the
session back; a publisher back within the grace period gets a new runner, on whichever host has
room, that continues the same playlists after an EXT-X-DISCONTINUITY.
"""
from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.live import ingest
from app.live.capacity import MAX_PASSTHROUGH_KEYFRAME_INTERVAL, MODE_PASSTHROUGH, Assignment
from app.live.lease import Lease
from app.live.state import announce_channel, announcement, hls_dir, pull_url, work_dir
from app.media.ffmpeg_args import (
    FFMPEG_MASTER_NAME,
    MASTER_NAME,
    PLAYLIST_NAME,
    classic_passthrough_args,
    ll_passthrough_args,
    ll_target_duration,
    ll_transcode_args,
    part_plan,
    source_time_part_plan,
    transcode_args,
)
from app.media.hls import fix_master_playlist
from app.media.ladder import Rung, Source, passthrough_rung
from app.media.llhls import WriteRefused, part_name
from app.media.llladder import LadderPackager
from app.media.probe import source_from_probe
from app.metrics.registry import PART_PUBLISH_LAG
from app.models import StreamSession
from app.models.channel import LATENCY_NORMAL
from app.storage.mirror import DirectorySync, live_mirror
from app.streams import services as streams
from workers.context import app_context
from workers.live.ffmpeg_process import FfmpegRun
from workers.live.headroom import HeadroomWatch
from workers.live.resume import resume_point, write_origin
from workers.live.stats import FrameWindow, InputMeter, encoder_stats, rung_kbps, write_stats
from workers.live.thumbnails import LiveThumbnail
from workers.live.upgrade import RETRY_AFTER, AddedRungs
from workers.relay import PullRelay

if TYPE_CHECKING:
    from workers.live.host import LiveHost

log = logging.getLogger(__name__)

PULL_WAIT = 20.0          # seconds to wait for a stream to become pullable before giving it back
RESTART_PROBE_WAIT = 3.0  # a restart's probe: the publisher may be leaving
MAX_RESTARTS = 5          # consecutive ffmpeg failures before the runner gives the session back
HEALTHY_RUN = 30.0        # a run this long was healthy: its exit starts a fresh count of failures
TICK = 0.5                # seconds between looks at ffmpeg, the lease and the session
GAIN_AFTER = 5.0          # seconds a passthrough runs before it may gain lower renditions


class Outcome(enum.Enum):
    ENDED = "ended"                # the session is over: the playlists are ended
    RECONNECTING = "reconnecting"  # the publisher left: stop, hold nothing through the grace
    LOST = "lost"                  # the lease is gone (or the host stops): stop writing now
    EXITED = "exited"              # ffmpeg exited by itself: restart, bounded
    TOO_SLOW = "too slow"          # the encode cannot keep up: something lighter
    SWITCH = "switch"              # passthrough cannot serve this source after all
    NOT_PULLABLE = "not pullable"  # the ingest server never gave us the stream
    GAVE_UP = "gave up"            # ffmpeg kept failing


def passthrough_target(source: Source) -> int:
    """EXT-X-TARGETDURATION of a passthrough playlist: its segments are the publisher's GOPs."""
    if source.keyframe_interval and source.keyframe_interval <= MAX_PASSTHROUGH_KEYFRAME_INTERVAL:
        return max(1, math.ceil(source.keyframe_interval - 0.01))
    return int(MAX_PASSTHROUGH_KEYFRAME_INTERVAL)


class SessionRunner(threading.Thread):
    """Runs one session for its host while it holds the session's lease."""

    def __init__(self, host: LiveHost, session_id: int, lease: Lease) -> None:
        super().__init__(daemon=True, name=f"session-{session_id}")
        self.host = host
        self.session_id = session_id
        self.lease = lease
        self.stopping = threading.Event()
        # Set when the session changed (a publisher left, Stop): look at its status now.
        self.poked = threading.Event()
        self.assignment: Assignment | None = None
        self.cost = 0.0
        self.source: Source | None = None
        self.relay: PullRelay | None = None
        self.run_: FfmpegRun | None = None
        self.ladder: LadderPackager | None = None
        self.sync: DirectorySync | None = None
        self.rungs: list[Rung] = []
        # Lower renditions the host granted a passthrough (`gain`), started on this thread (`added`).
        self.gain: Assignment | None = None
        self.added: AddedRungs | None = None
        self.no_gain_until = 0.0
        self.playable = threading.Event()
        self.announced_playable = False
        self.hook_told = False
        self.adoption_tried = False
        self.skip = 0.0  # seconds the next run decodes before its output starts (see adopt_relay)
        self.master_done = False
        self.step = 0
        self.restarts = 0
        self.last_status: str | None = "live"  # what the database said last (see status)
        self.db_away = False
        self.failures = 0
        self.note = ""
        self.state = "starting"
        self.outcome: Outcome | None = None
        self.cpu_rate: float | None = None
        self._cpu_sample: tuple[float, float] | None = None
        self.internal_name = ""
        self.slug = ""
        # The dashboard's health figures: what the publisher sends (fed by every pull this runner
        # makes) and the encoder's drops and duplicates over the last seconds.
        self.input_meter = InputMeter()
        self.frames = FrameWindow()

    # --- what the host asks -------------------------------------------------------------------

    @property
    def mode(self) -> str | None:
        return self.assignment.mode if self.assignment else None

    @property
    def rendition_names(self) -> list[str]:
        return [rung.name for rung in self.all_rungs]

    @property
    def all_rungs(self) -> list[Rung]:
        return self.rungs + (self.added.rungs if self.added is not None else [])

    @property
    def extra_cost(self) -> float:
        """Cores the lower renditions added to a passthrough hold (or are granted)."""
        extra = self.added or self.gain
        return extra.cost if extra is not None else 0.0

    def may_gain(self, now: float) -> bool:
        """Whether this session could take lower renditions now: an LL-HLS passthrough that has
        played for a few seconds, has none, and has not just lost some."""
        run = self.run_
        return (self.mode == MODE_PASSTHROUGH and self.low_latency and self.state == "running"
                and self.announced_playable and self.added is None and self.gain is None
                and self.source is not None and self.ladder is not None and run is not None
                and run.poll() is None
                and now - run.started >= GAIN_AFTER and now >= self.no_gain_until)

    def gain_rungs(self, granted: Assignment) -> None:
        """The host granted lower renditions: the runner's thread starts them at its next look."""
        self.gain = granted
        self.poke()

    def stop(self) -> None:
        self.stopping.set()
        self.poked.set()

    def poke(self) -> None:
        self.poked.set()

    def became_playable(self) -> None:
        """The packager's word that every rendition has a whole segment: the loop announces the
        stream at once instead of at its next look (up to TICK later)."""
        self.playable.set()
        self.poked.set()

    def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the session changes or the runner must stop."""
        self.poked.wait(seconds)
        self.poked.clear()

    # --- the thread ----------------------------------------------------------------------------

    def run(self) -> None:
        with app_context():
            try:
                self.outcome = self.main()
            except WriteRefused:
                self.outcome = Outcome.LOST
            except Exception:  # a session's failure must not take its host down
                log.exception("session %s: live runner failed", self.session_id)
                self.outcome = Outcome.GAVE_UP
            finally:
                self.stop_encoder(final=self.outcome is Outcome.ENDED)
                if self.outcome is not Outcome.LOST:
                    try:
                        self.host.redis.delete(self.host.keys.stats(self.session_id))
                    except Exception:  # noqa: BLE001 - it expires by itself
                        pass
                db.session.rollback()
                self.host.forget(self)
                log.info("session %s (%s): runner finished (%s)", self.session_id, self.internal_name,
                         self.outcome.value if self.outcome else "?")

    def main(self) -> Outcome:
        config = current_app.config
        session = db.session.get(StreamSession, self.session_id)
        if session is None or session.status != "live":
            return Outcome.ENDED if session is None or session.status == "ended" else Outcome.RECONNECTING
        self.internal_name = session.internal_name
        self.slug = session.channel.slug
        self.channel_id = session.channel_id
        self.record = bool(session.channel.record)
        # LL-HLS unless the creator chose normal latency (classic HLS), read once per run.
        self.low_latency = session.channel.latency_mode != LATENCY_NORMAL
        self.pull = pull_url(config, self.internal_name, session.ingest_url)
        self.out = hls_dir(config, self.internal_name)
        self.work = work_dir(config, self.internal_name)
        self.spool = self.work / "spool"
        self.thumbnail = LiveThumbnail(self.channel_id, self.work / "thumb.jpg")
        self.mirror = live_mirror(config)
        self.announce_failed = False
        if not streams.claim_session(self.session_id, host=self.host.id, token=self.lease.token):
            return Outcome.LOST
        log.info("session %s (%s): taken by host %s (lease %d)", self.session_id, self.internal_name,
                 self.host.id, self.lease.token)
        pull_deadline = None
        probe_wait = 12.0
        while True:
            if self.lost():
                return Outcome.LOST
            status = self.status()
            if status in (None, "ended"):
                return Outcome.ENDED
            if status == "reconnecting":
                return Outcome.RECONNECTING
            if self.source is None:
                self.state = "waiting"
                pull_deadline = pull_deadline or time.monotonic() + PULL_WAIT
                self.source = self.probe(probe_wait)
                if self.source is None:
                    if time.monotonic() > pull_deadline:
                        log.warning("session %s (%s): the stream could not be pulled for %.0f s; "
                                    "giving it back", self.session_id, self.internal_name, PULL_WAIT)
                        return Outcome.NOT_PULLABLE
                    self.publish_stats()
                    self.pause(0.25)
                    continue
                pull_deadline = None
                log.info("session %s (%s): source %dx%d at %.2f fps, %s/%s, keyframes every %s s",
                         self.session_id, self.internal_name, self.source.width, self.source.height,
                         self.source.fps, self.source.video_codec, self.source.audio_codec,
                         self.source.keyframe_interval or "?")
            if self.assignment is None:
                self.assignment = self.host.admit(self, self.source)
            self.start_encoder()
            outcome = self.watch()
            ran_for = time.monotonic() - self.run_.started if self.run_ else 0.0
            code = self.run_.poll() if self.run_ else None
            tail = " | ".join(list(self.run_.tail)[-3:]) if self.run_ else ""
            if outcome in (Outcome.ENDED, Outcome.LOST, Outcome.RECONNECTING):
                return outcome
            self.stop_encoder(keep_input=True)
            probe_wait = RESTART_PROBE_WAIT
            if outcome in (Outcome.TOO_SLOW, Outcome.SWITCH):
                self.restarts += 1
                continue
            # ffmpeg exited on its own while the publisher is connected: restart, bounded.
            self.failures = 1 if ran_for >= HEALTHY_RUN else self.failures + 1
            if self.failures > MAX_RESTARTS:
                log.error("session %s (%s): ffmpeg failed %d times in a row; giving up (last: %s)",
                          self.session_id, self.internal_name, self.failures, tail or "no output")
                self.note = "The encoder kept failing; it will be retried shortly."
                self.state = "failed"
                self.publish_stats()
                return Outcome.GAVE_UP
            backoff = min(2 ** (self.failures - 1), 10)
            self.restarts += 1
            log.warning("session %s (%s): ffmpeg exited with %s after %.0f s; restart %d of %d in %d s (%s)",
                        self.session_id, self.internal_name, code, ran_for, self.failures, MAX_RESTARTS,
                        backoff, tail or "no output")
            self.state = "restarting"
            self.pause(backoff)
            if self.lost():
                return Outcome.LOST
            if self.relay is None or not self.relay.alive():
                self.drop_relay()
                self.source = None  # a new pull: probe again, the publisher may have changed its settings

    def lost(self) -> bool:
        return self.stopping.is_set() or not self.lease.valid()

    def status(self) -> str | None:
        """The session's status now; while the database does not answer, the last one it gave: a
        database restart must not stop a stream (nothing can end it meanwhile either)."""
        db.session.rollback()  # a fresh snapshot: the hooks change the row under us
        try:
            self.last_status = db.session.scalar(select(StreamSession.status)
                                                 .where(StreamSession.id == self.session_id))
            if self.db_away:
                log.info("session %s: the database answers again", self.session_id)
                self.db_away = False
        except SQLAlchemyError as error:
            if not self.db_away:
                log.warning("session %s: the database does not answer (%s); carrying on as %s",
                            self.session_id, type(error).__name__, self.last_status)
                self.db_away = True
        finally:
            # Give the connection back: a host runs dozens of sessions, and a connection each,
            # held between looks, would drain the pool.
            db.session.rollback()
        return self.last_status

    # --- input ---------------------------------------------------------------------------------

    def probe(self, wait: float) -> Source | None:
        """The source, once the ingest server lets us pull it. The pull that probes is kept and
        feeds the next ffmpeg, so neither the probe nor a wait for the next keyframe costs the
        recording its first seconds."""
        self.drop_relay()
        relay = self.adopt_relay() or PullRelay(self.pull, spool=self.spool)
        if not self.hook_told:
            self.hook_told = True
            self.tell_hook(relay)
        try:
            source = source_from_probe(relay.probe(wait=wait, cancel=self.poked.is_set) or {})
        except (OSError, ValueError):
            source = None
        if source is None:
            relay.stop()
            return None
        relay.on_tag = self.input_meter.tag
        self.relay = relay
        return source

    def adopt_relay(self) -> PullRelay | None:
        """The spooling relay of a host killed while it ran this session, if it still pulls: the
        next run starts where that host's output ended (workers.live.resume), from the spool."""
        if self.adoption_tried:
            return None
        self.adoption_tried = True
        resume_at = resume_point(self.out, self.work)
        adopted = PullRelay.adopt(self.spool, self.pull, resume_at)
        if adopted is None:
            return None
        relay, start = adopted
        self.hook_told = True  # the publisher has long been released
        self.skip = max(0.0, resume_at - start) if resume_at is not None else 0.0
        log.info("session %s (%s): adopted the running relay (pid %s) of a host that died; resuming "
                 "at source time %s from its keyframe at %.3f s", self.session_id, self.internal_name,
                 relay.pid, f"{resume_at:.3f} s" if resume_at is not None else "unknown (its newest file)",
                 start)
        return relay

    def note_origin(self, passthrough: bool, skip: float) -> Callable[[float], None]:
        """What a run's relay calls with the keyframe it starts the run at: the run's origin, noted
        for the host that may adopt the relay (a passthrough keeps the source's times)."""
        def noted(keyframe: float) -> None:
            try:
                write_origin(self.work, 0.0 if passthrough else keyframe + skip)
            except OSError as error:
                log.warning("session %s: cannot note the run's origin (%s)", self.session_id, error)
        return noted

    def tell_hook(self, relay: PullRelay) -> None:
        """Let the publish hook (app.streams.services.place_session) release the publisher once
        our pull is connected, so it gets the stream from its first frame."""
        deadline = time.monotonic() + 1.0
        stat_url = current_app.config.get("INGEST_STAT_URL")
        known = None
        while stat_url and time.monotonic() < deadline:
            known = ingest.has_player(stat_url, self.internal_name)
            if known is not False:
                break  # registered, or no statistics to ask
            time.sleep(0.03)
        if known is None:
            # No statistics: the TCP connection, plus a moment for the RTMP handshake and play.
            relay.connected(urlsplit(self.pull).port or 1935, timeout=max(0.1, deadline - time.monotonic()))
            time.sleep(0.25)
        try:
            pipe = self.host.redis.pipeline()
            pipe.rpush(self.host.keys.pulling(self.session_id), "1")
            pipe.expire(self.host.keys.pulling(self.session_id), 10)
            pipe.execute()
        except Exception:  # noqa: BLE001 - the hook stops waiting by itself
            pass

    def drop_relay(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

    def take_input(self) -> tuple[str, PullRelay]:
        """What the next ffmpeg reads: the probe's pull when there is one, else a new pull; either
        way through a relay, which starts it at a video keyframe (see PullRelay.feed)."""
        relay, self.relay = self.relay, None
        relay = relay if relay is not None else PullRelay(self.pull, spool=self.spool)
        relay.on_tag = self.input_meter.tag
        return "pipe:0", relay

    # --- output --------------------------------------------------------------------------------

    def start_encoder(self) -> None:
        assert self.assignment is not None and self.source is not None
        source, assignment = self.source, self.assignment
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.playable.clear()
        self.announced_playable = False
        self.master_done = False
        passthrough = assignment.mode == MODE_PASSTHROUGH
        self.rungs = [passthrough_rung(source)] if passthrough else list(assignment.encode_plan.rungs)
        copy_audio = source.audio_codec in (None, "aac")
        input_url, relay = self.take_input()
        skip, self.skip = (0.0 if passthrough else self.skip), 0.0
        relay.on_start = self.note_origin(passthrough, skip)
        if self.low_latency:
            plans = [source_time_part_plan(rung.fps) if passthrough else part_plan(rung.fps)
                     for rung in self.rungs]
            target = passthrough_target(source) if passthrough else ll_target_duration(self.rungs, plans)
            ladder = LadderPackager(self.out, self.rungs, plans, target_duration=target,
                                    record=self.record, announce=self.announce, mirror=self.mirror,
                                    segment_min=1.0 if passthrough else None, fixed_gop=not passthrough,
                                    closed_captions=source.closed_captions, guard=self.lease.valid,
                                    on_playable=self.became_playable,
                                    # A broadcast's first run: viewers wait for it to catch up. A
                                    # restarted one's are playing already (from the playlist).
                                    paced=self.restarts == 0)
            fds = ladder.open_pipes()
            if passthrough:
                args = ll_passthrough_args(input_url, plans[0], fds[0], has_audio=source.has_audio,
                                           copy_audio=copy_audio)
            else:
                args = ll_transcode_args(input_url, self.rungs, plans, fds, encoder=self.host.encoder,
                                         preset=assignment.encode_plan.preset, has_audio=source.has_audio,
                                         source_fps=source.fps, skip=skip,
                                         thumbnail_path=str(self.thumbnail.jpeg_path))
            try:
                self.run_ = FfmpegRun(args, pass_fds=tuple(fds), relay=relay)
            except OSError:
                ladder.close()
                if relay is not None:
                    relay.stop()
                raise
            ladder.start()
            self.ladder = ladder
        else:
            # Numbers that only grow across restarts, so no run overwrites an earlier run's files.
            start_number = int(time.time() * 10)
            if passthrough:
                args = classic_passthrough_args(input_url, str(self.out), self.rungs[0],
                                                has_audio=source.has_audio, copy_audio=copy_audio,
                                                record=self.record, start_number=start_number)
            else:
                args = transcode_args(input_url, str(self.out), self.rungs, encoder=self.host.encoder,
                                      preset=assignment.encode_plan.preset, has_audio=source.has_audio,
                                      source_fps=source.fps, record=self.record,
                                      thumbnail_path=str(self.thumbnail.jpeg_path),
                                      start_number=start_number)
            self.run_ = FfmpegRun(args, relay=relay)
            if self.mirror is not None:
                if self.sync is None:
                    self.sync = DirectorySync(self.mirror, self.out, skip={FFMPEG_MASTER_NAME})
                self.sync.start()
        self.state = "running"
        self._cpu_sample = None
        log.info("session %s (%s): %s started (ffmpeg %s): %s%s", self.session_id, self.internal_name,
                 assignment.mode, self.run_.pid, "/".join(self.rendition_names),
                 f", preset {assignment.plan.preset}" if assignment.plan else "")
        self.claim_renditions()

    def claim_renditions(self) -> None:
        """Tell the session row (API `mode`, `renditions`; the dashboard) what viewers get and why."""
        assignment = self.assignment
        assert assignment is not None
        passthrough = assignment.mode == MODE_PASSTHROUGH
        delivery = "ll-hls" if self.low_latency else "hls"

        def described(rung: Rung, copied: bool, preset: str | None) -> dict[str, Any]:
            return {**rung.as_dict(), "playlist": f"{rung.name}/{PLAYLIST_NAME}",
                    "encoder": "copy" if copied else self.host.encoder.name, "preset": preset,
                    "passthrough": copied, "headroom_step": self.step, "note": self.note,
                    "delivery": delivery}

        renditions = [described(rung, passthrough, None if passthrough else assignment.encode_plan.preset)
                      for rung in self.rungs]
        reason = assignment.reason + (f" {self.note}" if self.note else "")
        if self.added is not None and self.added.listed:
            added_preset = self.added.assignment.encode_plan.preset
            renditions += [described(rung, False, added_preset) for rung in self.added.rungs]
            reason += f" {self.added.assignment.reason}"
        streams.claim_session(self.session_id, host=self.host.id, token=self.lease.token,
                              mode=assignment.mode, reason=reason, renditions=renditions)

    # --- lower renditions added to a passthrough -----------------------------------------------

    def start_added(self) -> None:
        assert self.gain is not None and self.ladder is not None and self.source is not None
        added = AddedRungs(self.gain, name=f"session {self.session_id} ({self.internal_name})")
        try:
            added.start(self.ladder, self.pull, self.source, self.host.encoder)
        except (OSError, RuntimeError) as error:
            log.warning("session %s (%s): cannot add lower renditions (%s)", self.session_id,
                        self.internal_name, error)
            self.gain = None
            self.no_gain_until = time.monotonic() + RETRY_AFTER
            return
        self.added, self.gain = added, None
        self._cpu_sample = None

    def drop_added(self, why: str | None = None) -> None:
        """Take the added renditions out; the passthrough goes on alone."""
        added, self.gain = self.added, None
        if added is None:
            return
        if why:
            log.warning("session %s (%s): lower renditions %s taken out: %s", self.session_id,
                        self.internal_name, "/".join(rung.name for rung in added.rungs), why)
            self.no_gain_until = time.monotonic() + RETRY_AFTER
        try:
            added.stop()
        except Exception as error:  # noqa: BLE001 - the lease ran out while rewriting the master
            log.warning("session %s: could not take the lower renditions out cleanly (%s)", self.session_id, error)
        self.added = None  # counted (extra_cost) until their ffmpeg has stopped
        self._cpu_sample = None
        if why and added.listed and self.lease.valid():
            self.claim_renditions()

    def announce(self, rung: str, msn: int, part: int) -> None:
        """Wake the requests held for this part (app.hls). Runs on the packager's threads; without
        Redis they poll the playlist instead, so a failure here must not stop packaging."""
        try:
            # Since the packager wrote the part (a part that opened a segment keeps the name it was
            # hinted under, p12.6.m4s for 13.0: not timed).
            PART_PUBLISH_LAG.observe(max(0.0, time.time() - (self.out / rung / part_name(msn, part)).stat().st_mtime))
        except OSError:
            pass
        try:
            self.host.redis.publish(announce_channel(self.internal_name), announcement(rung, msn, part))
            self.announce_failed = False
        except Exception as error:  # noqa: BLE001 - any Redis error
            if not self.announce_failed:
                log.warning("session %s (%s): cannot announce parts (%s); held requests will poll",
                            self.session_id, self.internal_name, error)
            self.announce_failed = True

    def stop_encoder(self, final: bool = False, keep_input: bool = False) -> None:
        """Stop ffmpeg; with LL-HLS close the open segments (`final`: end the playlists too).
        `keep_input`: keep its pull when media still flows, for the next run (PullRelay)."""
        self.drop_relay()
        self.drop_added()
        if self.run_ is not None:
            relay = self.run_.relay
            if keep_input and relay is not None and relay.alive():
                self.run_.relay = None
                relay.detach()  # end of input: ffmpeg finishes at once (FfmpegRun.stop)
            else:
                relay = None
            self.run_.stop()
            self.run_ = None
            if relay is not None:
                self.relay = relay
        if self.sync is not None:
            self.sync.stop()
        if self.ladder is not None:
            if self.lease.valid():
                try:
                    self.ladder.finish() if final else self.ladder.close()
                except Exception as error:  # noqa: BLE001 - the lease ran out while closing
                    log.warning("session %s: could not close the playlists (%s)", self.session_id, error)
            for problem in self.ladder.errors:
                log.error("session %s (%s): LL-HLS packaging stopped: %s", self.session_id, self.internal_name, problem)
            self.ladder = None
        self.host.release_capacity(self)

    def watch(self) -> Outcome:
        """Tend the running ffmpeg until something needs the loop in `main`."""
        assert self.run_ is not None and self.source is not None
        headroom = HeadroomWatch(time.monotonic())
        checked = 0.0
        while True:
            if self.lost():
                return Outcome.LOST
            now = time.monotonic()
            if now - checked >= 1.0:
                checked = now
                status = self.status()
                if status in (None, "ended"):
                    return Outcome.ENDED
                if status == "reconnecting":
                    return Outcome.RECONNECTING
                self.publish_stats()
                self.publish_thumbnail()
                db.session.rollback()  # no connection held between looks
            if self.run_.poll() is not None or (self.ladder is not None and self.ladder.errors):
                return Outcome.LOST if not self.lease.valid() else Outcome.EXITED
            if not self.low_latency and not self.master_done:
                self.master_done = fix_master_playlist(self.out / FFMPEG_MASTER_NAME, self.rungs,
                                                       self.source.has_audio, target=self.out / MASTER_NAME,
                                                       closed_captions=self.source.closed_captions)
                if self.master_done:
                    self.playable.set()
            if self.playable.is_set() and not self.announced_playable and not self.db_away:
                try:
                    streams.mark_playable(self.session_id, self.lease.token)
                    self.announced_playable = True
                except SQLAlchemyError:
                    db.session.rollback()  # the database is away: at the next look
            if self.gain is not None and self.added is None:
                self.start_added()
            elif self.added is not None and (trouble := self.added.trouble(now)) is not None:
                self.drop_added(trouble)
            elif self.added is not None and self.added.newly_listed():
                self.claim_renditions()
            progress = self.run_.latest
            if self.mode == MODE_PASSTHROUGH:
                if self.ladder is not None and self.ladder.longest_segment > MAX_PASSTHROUGH_KEYFRAME_INTERVAL + 0.5:
                    return self.keyframes_too_far(self.ladder.longest_segment)
            elif headroom.observe(now, progress):
                mean = headroom.mean() or 0.0
                lighter = self.host.lighten(self, self.source, self.step + 1)
                if lighter is not None:
                    self.step += 1
                    self.note = (f"Encoding ran at {mean:.2f}x real time for {headroom.window:.0f} s, "
                                 f"so the stream now gets less: {lighter.reason}")
                    log.warning("session %s (%s): %s", self.session_id, self.internal_name, self.note)
                    self.assignment = lighter
                    return Outcome.TOO_SLOW
            if self.poked.is_set():
                self.poked.clear()
                checked = 0.0  # look at the session's status now
            else:
                self.poked.wait(TICK)

    def keyframes_too_far(self, seconds: float) -> Outcome:
        """A passthrough source whose keyframes turned out too far apart: tell the creator, and
        transcode it where capacity allows (aligned GOPs) from the next run."""
        assert self.source is not None
        self.source = replace(self.source, keyframe_interval=round(seconds, 1))
        self.assignment = self.host.admit(self, self.source)
        self.note = (f"Your keyframes are about {seconds:.0f} s apart, which makes viewers wait: "
                     "in OBS set Output → Keyframe Interval to 2 s.")
        log.warning("session %s (%s): %s Now: %s", self.session_id, self.internal_name, self.note, self.assignment.mode)
        return Outcome.SWITCH

    def publish_thumbnail(self) -> None:
        try:
            if self.mode == MODE_PASSTHROUGH and self.rungs:
                self.thumbnail.from_segment(self.out / self.rungs[0].name)
            else:
                self.thumbnail.from_encoder()
        except Exception as error:  # noqa: BLE001 - a thumbnail is never worth a stream
            log.warning("session %s: thumbnail failed (%s)", self.session_id, error)

    def measure_cpu(self) -> None:
        """Cores this session's ffmpeg processes used since the last look."""
        if self.run_ is None:
            return
        spent, now = self.run_.cpu_seconds(), time.monotonic()
        if spent is None:
            return
        if self.added is not None:
            spent += self.added.cpu_seconds() or 0.0
        if self._cpu_sample is not None and now - self._cpu_sample[0] >= 0.9:
            self.cpu_rate = round((spent - self._cpu_sample[1]) / (now - self._cpu_sample[0]), 3)
            self._cpu_sample = (now, spent)
        elif self._cpu_sample is None:
            self._cpu_sample = (now, spent)

    def input_age(self) -> float | None:
        """Seconds since the ingest server last sent this session anything (None: no pull)."""
        relay = self.run_.relay if self.run_ is not None and self.run_.relay is not None else self.relay
        age = relay.input_age() if relay is not None else math.inf
        return round(age, 2) if math.isfinite(age) else None

    def publish_stats(self) -> None:
        self.measure_cpu()
        progress = self.run_.latest if self.run_ else {}
        passthrough = self.mode == MODE_PASSTHROUGH
        copied = {r.name for r in self.rungs} if passthrough else set()
        rungs = [{"name": r.name, "width": r.width, "height": r.height, "fps": r.fps,
                  # A passthrough rung's bitrate is the publisher's; ours is only a guess.
                  "target_kbps": None if r.name in copied else r.video_kbps,
                  "kbps": rung_kbps(self.out / r.name) if self.state == "running" else None}
                 for r in self.all_rungs]
        assignment = self.assignment
        stats = encoder_stats(
            session_id=self.session_id, name=self.internal_name, state=self.state, mode=self.mode,
            encoder=self.host.encoder.name, preset=assignment.plan.preset if assignment and assignment.plan else None,
            rungs=rungs, progress=progress, source_fps=self.source.fps if self.source else None,
            source_size=(self.source.width, self.source.height) if self.source else None,
            input_figures=self.input_meter.figures(),
            restarts=self.restarts, step=self.step, note=self.note, input_age=self.input_age(),
            ffmpeg_pid=self.run_.pid if self.run_ and self.run_.poll() is None else None,
            host=self.host.id, cpu=self.cpu_rate, transcoding=self.mode not in (None, MODE_PASSTHROUGH))
        if self.state == "running":
            out_us = str(progress.get("out_time_us", ""))
            self.frames.add(time.monotonic(), stats["frame"], stats["drop_frames"], stats["dup_frames"],
                            int(out_us) / 1e6 if out_us.isdigit() else None)
            stats["frames_recent"] = recent = self.frames.recent(len(self.all_rungs))
            if stats["speed"] is not None and recent.get("speed") is not None:
                stats["speed"] = recent["speed"]  # steadier than the last second's (FrameWindow)
        try:
            write_stats(self.host.redis, self.host.keys.stats(self.session_id), stats)
        except Exception:  # noqa: BLE001 - the dashboard goes without figures for a moment
            pass

