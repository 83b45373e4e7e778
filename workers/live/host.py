"""A live host: one process that runs many live sessions at once, up to its capacity.

Each session it runs is a SessionRunner thread (its own ffmpeg, relay and packagers) holding the
session's lease (app.live.lease). The host
  - says every second what it can carry and carries (app.live.hosts heartbeat),
  - renews its sessions' leases on a thread of its own, so a slow database never costs a lease,
    and stops a runner whose lease is lost,
  - takes sessions that need an owner: the ones the publish hook placed on it at once (a Redis
    wake-up), any other unowned live session when it is the emptiest host or the placement ran
    out, and so adopts a dead host's sessions once their leases expire (within TTL + a scan),
  - admits each session at the best rendition set that fits what is free now (app.live.capacity),
  - and, when capacity frees beyond what a newcomer's full ladder needs, gives LL-HLS passthrough
    sessions lower renditions (workers.live.upgrade).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from app.extensions import db, get_redis
from app.live import capacity, hosts
from app.live.capacity import Assignment, Capacity, CostModel
from app.live.hosts import HostInfo, HostSession
from app.live.lease import Lease, holder, release_dead
from app.live.state import LiveKeys
from app.media.encoder_trial import detect_encoder
from app.media.ladder import Source
from app.models import StreamSession
from workers.live.reconcile import Reconciler
from workers.live.session import SessionRunner

log = logging.getLogger(__name__)

SCAN_EVERY = 1.0          # seconds between looks for sessions that need an owner
GIVE_BACK_PAUSE = 10.0    # a session this host gave back (not pullable) is left alone this long


class LiveHost:
    def __init__(self, app: Flask, *, host_id: str | None = None, cores: float | None = None,
                 model: CostModel | None = None) -> None:
        config = app.config
        self.app = app
        self.keys = LiveKeys(config)
        self.redis: Redis = get_redis()
        self.id = host_id or config.get("LIVE_HOST_ID") or f"{socket.gethostname()}:{os.getpid()}"
        self.encoder = detect_encoder()
        cpu_count = cores or config.get("LIVE_HOST_CORES") or os.cpu_count() or 1
        hw = int(config.get("LIVE_HW_SESSIONS") or 0) if self.encoder.is_gpu else 0
        self.capacity = Capacity.of_host(cpu_count, hw, share=float(config.get("LIVE_HOST_SHARE") or 0.5))
        self.model = model or CostModel()
        self.info = HostInfo(id=self.id, hostname=socket.gethostname(), pid=os.getpid(),
                             cpu_count=int(round(cpu_count)), capacity_cores=self.capacity.cores,
                             hw_sessions=self.capacity.hw_sessions, encoder=self.encoder.name,
                             calibrated=self.model.measured)
        self.runners: dict[int, SessionRunner] = {}
        self.gave_back: dict[int, float] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.woken = threading.Event()
        self.redis_down_logged = False
        self.reconciler = Reconciler(self)
        self.alone = False  # known at the first heartbeat
        # What ladder sessions really cost against what they were admitted at, learnt as they run.
        self.correction = 1.0
        self.correction_max = float(config.get("LIVE_COST_CORRECTION_MAX") or 3.0)

    # --- capacity -----------------------------------------------------------------------------

    def _reserved(self, exclude: SessionRunner | None = None) -> tuple[float, int]:
        cores: float = 0
        hw = 0
        for runner in self.runners.values():
            if runner is not exclude and runner.assignment is not None:
                cores += runner.cost + runner.extra_cost
                hw += runner.assignment.hw_sessions if runner.cost else 0
        return cores, hw

    def admit(self, runner: SessionRunner, source: Source) -> Assignment:
        """The best rendition set for `source` that fits now; reserves its cost for the runner."""
        with self.lock:
            cores, hw = self._reserved(exclude=runner)
            model = self._corrected()
            chosen = capacity.choose(source, free_cores=self.capacity.cores - cores, model=model,
                                     free_hw_sessions=self.capacity.hw_sessions - hw,
                                     gpu=self.encoder.is_gpu, cpu_decode=self.encoder.uploads)
            runner.assignment = chosen
            runner.cost = chosen.cost
            log.info("session %s: %s (%.2f of %.2f cores free; costs %.2f): %s", runner.session_id,
                     chosen.mode, self.capacity.cores - cores, self.capacity.cores, chosen.cost, chosen.reason)
            return chosen

    def lighten(self, runner: SessionRunner, source: Source, step: int) -> Assignment | None:
        """After the encode fell behind: the next lighter ladder, else passthrough, else None."""
        with self.lock:
            chosen = capacity.after_falling_behind(source, step, self._corrected())
            if chosen is not None:
                runner.cost = chosen.cost
            return chosen

    def _corrected(self) -> CostModel:
        if self.correction == 1.0:
            return self.model
        return CostModel(encode={k: v * self.correction for k, v in self.model.encode.items()},
                         decode=self.model.decode * self.correction, measured=self.model.measured)

    def grow(self) -> None:
        """Give passthrough sessions lower renditions, oldest first, while what stays free still
        takes a newcomer's full ladder. Not while a session is starting: it is admitted first."""
        now = time.monotonic()
        with self.lock:
            runners = sorted(self.runners.values(), key=lambda runner: runner.session_id)
            if any(runner.assignment is None for runner in runners):
                return
            for runner in runners:
                if not runner.may_gain(now):
                    continue
                cores, _ = self._reserved()
                assert runner.source is not None  # may_gain says so
                granted = capacity.added_rungs(runner.source, free_cores=self.capacity.cores - cores,
                                               model=self._corrected())
                if granted is None:
                    continue
                log.info("session %s: gains %s (%.2f of %.2f cores free; costs %.2f)", runner.session_id,
                         "/".join(granted.rung_names), self.capacity.cores - cores, self.capacity.cores,
                         granted.cost)
                runner.gain_rungs(granted)

    def release_capacity(self, runner: SessionRunner) -> None:
        with self.lock:
            runner.cost = 0.0

    def _learn(self) -> None:
        """Compare measured CPU with admitted cost for ladders that ran a while (slowly)."""
        samples = [(runner.cpu_rate, runner.cost) for runner in self.runners.values()
                   if runner.cpu_rate and runner.cost > 0.1 and runner.mode != capacity.MODE_PASSTHROUGH]
        if not samples:
            return
        ratio = sum(cpu for cpu, _ in samples) / sum(cost * self.correction for _, cost in samples)
        self.correction = min(self.correction_max, max(1.0, 0.9 * self.correction + 0.1 * ratio * self.correction))

    # --- sessions -----------------------------------------------------------------------------

    def forget(self, runner: SessionRunner) -> None:
        with self.lock:
            if self.runners.get(runner.session_id) is runner:
                del self.runners[runner.session_id]
            if runner.outcome is not None and runner.outcome.value in ("not pullable", "gave up"):
                self.gave_back[runner.session_id] = time.monotonic()
        runner.lease.release()
        self.woken.set()  # capacity freed: look again

    def scan(self) -> None:
        """Take the live sessions that need an owner and that this host should run."""
        db.session.rollback()
        wanted = db.session.execute(select(StreamSession.id, StreamSession.lease_token)
                                    .where(StreamSession.status == "live")).all()
        db.session.rollback()  # the connection goes back to the pool the runners share
        if not wanted:
            return
        now = time.monotonic()
        everyone = None
        for session_id, floor in wanted:
            if session_id in self.runners or now - self.gave_back.get(session_id, -1e9) < GIVE_BACK_PAUSE:
                continue
            held = holder(self.redis, self.keys, session_id)
            if held is not None and not (self.dead_here(held[0])
                                         and release_dead(self.redis, self.keys, session_id, *held)):
                continue
            placed = hosts.placed_on(self.redis, self.keys, session_id)
            if placed is not None and placed != self.id:
                continue  # the publish hook chose another host; it gets a moment to take it
            if placed is None:
                # Unplaced (the placement ran out, or its host died): the emptiest host takes it.
                if everyone is None:
                    everyone = [h for h in hosts.live_hosts(self.redis, self.keys) if not self.dead_here(h.id)]
                if (everyone and everyone[0].id != self.id and any(h.id == self.id for h in everyone)
                        and not self._stale(session_id)):
                    continue
            self.take(session_id, floor)

    def dead_here(self, owner: str) -> bool:
        """Whether `owner` is a host process of this machine (the default id, name:pid) that has
        died: supervisord restarted it under a new pid, and the new process takes its sessions back
        at once instead of waiting out their leases. A pid now used by another process reads as
        alive, so the lease is waited out as for a host elsewhere."""
        name, _, pid = owner.rpartition(":")
        if owner == self.id or name != socket.gethostname() or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    def _stale(self, session_id: int) -> bool:
        """Whether an unowned session has waited long enough that any host should take it."""
        key = f"{self.keys.prefix}unowned:{session_id}"
        if self.redis.set(key, "1", nx=True, px=3000):
            return False
        return bool(self.redis.pttl(key) < 1500)

    def take(self, session_id: int, floor: int = 0) -> None:
        lease = Lease.acquire(self.redis, self.keys, session_id, self.id, floor=floor, alone=lambda: self.alone)
        if lease is None:
            return
        runner = SessionRunner(self, session_id, lease)
        with self.lock:
            self.runners[session_id] = runner
        runner.start()

    # --- loops --------------------------------------------------------------------------------

    def keep_leases(self) -> None:
        """Renew every held lease when due; stop a runner whose lease is lost."""
        while not self.stopping.is_set():
            with self.lock:
                runners = list(self.runners.values())
            for runner in runners:
                if (runner.lease.due() and not runner.lease.renew()) or not runner.lease.valid():
                    runner.stop()
            self.stopping.wait(0.5)

    def listen(self) -> None:
        """Wake the main loop when the publish hook places a session or a publisher leaves."""
        while not self.stopping.is_set():
            pubsub = None
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.keys.wake)
                while not self.stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    self.woken.set()
                    changed = hosts.changed_session(message.get("data") or b"")
                    runner = self.runners.get(changed) if changed is not None else None
                    if runner is not None:
                        runner.poke()
            except RedisError:
                self.stopping.wait(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except RedisError:
                        pass

    def heartbeat(self) -> None:
        with self.lock:
            runners = list(self.runners.values())
            cores, hw = self._reserved()
        self._learn()
        self.info.reserved_cores = round(cores, 3)
        self.info.reserved_hw = hw
        self.info.load_cores = round(sum(r.cpu_rate or 0.0 for r in runners), 3)
        self.info.sessions = [HostSession(session_id=r.session_id, internal_name=r.internal_name, channel=r.slug,
                                          mode=r.mode, renditions=r.rendition_names, cost=round(r.cost, 3),
                                          state=r.state) for r in runners]
        hosts.publish(self.redis, self.keys, self.info)
        # Whether this host runs alone (its dead predecessor aside): then its leases carry it
        # through a Redis outage (app.live.lease.Lease.valid).
        self.alone = all(h.id == self.id or self.dead_here(h.id) for h in hosts.live_hosts(self.redis, self.keys))

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT (`stop()`)."""
        threads = [threading.Thread(target=self.keep_leases, daemon=True, name="leases"),
                   threading.Thread(target=self.listen, daemon=True, name="wake")]
        for thread in threads:
            thread.start()
        log.info("live host %s: %.2f cores for live sessions (%d CPUs), %s%s, cost model %s",
                 self.id, self.capacity.cores, self.info.cpu_count, self.encoder.name,
                 f" ({self.capacity.hw_sessions} hardware sessions)" if self.capacity.hw_sessions else "",
                 "measured" if self.model.measured else "built in")
        while not self.stopping.is_set():
            try:
                self.heartbeat()
                self.scan()
                self.grow()
                self.reconciler.step()
                if self.redis_down_logged:
                    log.info("live host %s: Redis and the database answer again", self.id)
                    self.redis_down_logged = False
            except Exception as error:  # Redis or the database away: keep trying
                if not self.redis_down_logged:
                    log.warning("live host %s: cannot reach Redis or the database (%s: %s); retrying",
                                self.id, type(error).__name__, error, exc_info=True)
                    self.redis_down_logged = True
                db.session.rollback()
            self.woken.wait(SCAN_EVERY)
            self.woken.clear()
        self.shutdown()
        # The lease and wake loops notice `stopping` within a second: a host stopped in-process
        # leaves no thread behind reading the Redis client its app closes next.
        for thread in threads:
            thread.join(timeout=5)

    def stop(self) -> None:
        self.stopping.set()
        self.woken.set()

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop every runner (each closes its playlists and gives its session back, so another host
        can take it at once) and leave the registry."""
        with self.lock:
            runners = list(self.runners.values())
        for runner in runners:
            runner.stop()
        deadline = time.monotonic() + timeout
        for runner in runners:
            runner.join(max(0.1, deadline - time.monotonic()))
        try:
            hosts.withdraw(self.redis, self.keys, self.id)
        except RedisError:
            pass
        log.info("live host %s stopped", self.id)

