"""Retention: delete recordings older than their channel keeps them, and sweep storage of objects
nothing refers to any more (recordings without a row, live HLS of finished sessions, pictures of
deleted channels and users). Called hourly by workers/retention.py and by `flask vods ...`.
"""
from __future__ import annotations

import itertools
import logging
import os
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select

from ..extensions import db, get_redis
from ..jobs import enqueue_vod
from ..live.state import hls_root
from ..models import VOD, Channel, StreamSession, User, utcnow
from ..models.vod import VOD_PREFIX
from ..safety.holds import held_session_ids, held_vod_ids
from ..storage.backends import LocalStorage, StoredObject, get_storage
from .services import VodError, delete_vod

log = logging.getLogger(__name__)

MAX_RETENTION_DAYS = 3650
DEFAULT_GRACE = timedelta(days=1)
# Set when the sweep re-enqueued a session's VOD job, so a job that keeps failing is retried
# once rather than every hour; the recording stays until someone looks at why.
REQUEUED_KEY = "cascade:retention:vod-requeued:{}"
REQUEUED_TTL = 180 * 24 * 3600

# Storage kinds the sweep reports on, in the order it reports them.
KINDS = ("vods", "hls", "local-hls", "thumbnails", "profiles")


class RetentionSettingError(ValueError):
    """VOD_RETENTION_DAYS is not a number of days the sweep can act on."""


def instance_retention_days(config=None) -> int:
    """The site's default number of days to keep recordings (0 keeps them for good)."""
    config = current_app.config if config is None else config
    raw = config.get("VOD_RETENTION_DAYS", 30)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        days = -1
    if days < 0 or days > MAX_RETENTION_DAYS or isinstance(raw, bool):
        raise RetentionSettingError(
            f"VOD_RETENTION_DAYS is {raw!r}: use 0 (keep recordings for good) or a number of days "
            f"from 1 to {MAX_RETENTION_DAYS}")
    return days


def retention_days(channel: Channel, site_days: int | None = None) -> int:
    """How many days this channel's recordings are kept; 0 means for good."""
    if channel.vod_retention_days is None:
        return instance_retention_days() if site_days is None else site_days
    return max(0, channel.vod_retention_days)


# --- expiry ----------------------------------------------------------------------------------


def expired_vods(now: datetime | None = None) -> list[VOD]:
    """VODs older than their channel keeps recordings, oldest first.

    A recording's age counts from when its VOD was made (the end of the broadcast); one that is
    exactly N days old under an N-day rule has expired. The database does the filtering: one
    cutoff per distinct retention setting among channels that have VODs, so a big instance never
    loads the recordings it keeps, and the SQL is plain comparisons on both SQLite and PostgreSQL.
    """
    now = now or utcnow()
    site_days = instance_retention_days()
    settings = db.session.scalars(
        select(Channel.vod_retention_days).distinct().join(VOD, VOD.channel_id == Channel.id)).all()
    rules = []
    for setting in settings:
        days = site_days if setting is None else setting
        if days is None or days <= 0:
            continue  # kept for good (a negative value, written by hand, is read the safe way)
        same_setting = (Channel.vod_retention_days.is_(None) if setting is None
                        else Channel.vod_retention_days == setting)
        rules.append(and_(same_setting, VOD.created_at <= now - timedelta(days=days)))
    if not rules:
        return []
    held = held_vod_ids()  # evidence for a case, an appeal or a DMCA notice (app.safety.holds)
    return [vod for vod in db.session.scalars(
        select(VOD).join(Channel, VOD.channel_id == Channel.id).where(or_(*rules))
        .order_by(VOD.created_at, VOD.id)) if vod.id not in held]


@dataclass
class ExpiredVOD:
    id: int
    channel: str  # the channel's slug
    title: str
    created_at: datetime
    objects: int = 0
    error: str | None = None

    def describe(self) -> str:
        return (f"VOD {self.id} of {self.channel} (\u201c{self.title}\u201d, made "
                f"{self.created_at:%Y-%m-%d %H:%M} UTC)")


@dataclass
class Expiry:
    dry_run: bool
    deleted: list[ExpiredVOD] = field(default_factory=list)  # with dry_run: would be deleted
    failed: list[ExpiredVOD] = field(default_factory=list)


def expire_vods(now: datetime | None = None, *, dry_run: bool = False) -> Expiry:
    """Delete every expired VOD (objects, then row) with delete_vod, logging each. One failure
    is logged and skipped; the rest go on, and the next run tries the failed one again."""
    now = now or utcnow()
    found = [ExpiredVOD(vod.id, vod.channel.slug, vod.display_title(), vod.created_at)
             for vod in expired_vods(now)]
    result = Expiry(dry_run=dry_run)
    if dry_run:
        result.deleted = found
        return result
    for item in found:
        vod = db.session.get(VOD, item.id)
        if vod is None:
            continue  # deleted meanwhile (by its creator, or another run)
        try:
            item.objects = delete_vod(vod)
        except VodError as refusal:  # held since it was listed (reported meanwhile): kept, not a failure
            log.info("retention: kept expired %s: %s", item.describe(), refusal.message)
            continue
        except Exception as error:  # storage or database: log, go on with the rest
            db.session.rollback()
            item.error = f"{type(error).__name__}: {error}"
            log.exception("retention: could not delete expired %s", item.describe())
            result.failed.append(item)
            continue
        log.info("retention: deleted expired %s with %d objects", item.describe(), item.objects)
        result.deleted.append(item)
    return result


# --- orphan sweep ----------------------------------------------------------------------------


@dataclass
class Leftover:
    kind: str  # one of KINDS
    where: str  # a storage prefix ("vods/12/") or, for local-hls, a directory
    objects: int
    reason: str
    error: str | None = None


@dataclass
class Sweep:
    dry_run: bool
    deleted: list[Leftover] = field(default_factory=list)  # with dry_run: would be deleted
    failed: list[Leftover] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)  # session ids whose VOD job was re-enqueued

    @property
    def counts(self) -> dict[str, int]:
        """Objects (files, for local-hls) deleted per kind, and VOD jobs re-enqueued."""
        counts = {kind: 0 for kind in KINDS}
        for item in self.deleted:
            counts[item.kind] += item.objects
        counts["requeued"] = len(self.requeued)
        return counts


def _folders(objects: Iterator[StoredObject], prefix: str) -> Iterator[tuple[str, list[StoredObject]]]:
    """(name, objects) per folder directly under `prefix`, one folder's objects at a time.

    Both backends list in key order, so a folder's keys come together (keys sharing a prefix are
    contiguous in that order) and the sweep never holds a whole bucket's listing. Objects
    lying loose under `prefix` are nobody's folder and are left alone.
    """
    def folder(obj: StoredObject) -> str | None:
        name, sep, _ = obj.key[len(prefix):].partition("/")
        return name if sep else None

    for name, group in itertools.groupby(objects, key=folder):
        if name:
            yield name, list(group)


def _newest(objects: list[StoredObject]) -> datetime:
    return max(obj.modified for obj in objects)


def _delete_objects(storage, objects: list[StoredObject], prefix: str) -> None:
    """Delete exactly the objects listed, never the whole prefix: anything written since the
    listing (a VOD job that just started) survives."""
    keys = [obj.key for obj in objects]
    delete_keys = getattr(storage, "delete_keys", None)
    if delete_keys is not None:
        delete_keys(keys)
        return
    for key in keys:
        storage.delete(key)
    if isinstance(storage, LocalStorage):
        _prune_empty_dirs(storage.root / prefix)


def _prune_empty_dirs(top: Path) -> None:
    if not top.is_dir():
        return
    for directory, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(directory)  # only succeeds when empty
        except OSError:
            pass


def _local_files(directory: Path) -> tuple[int, datetime]:
    """How many files a local folder holds and when the newest of them (or the folder) changed."""
    count, newest = 0, directory.stat().st_mtime
    for path in directory.rglob("*"):
        info = path.stat()
        newest = max(newest, info.st_mtime)
        count += path.is_file()
    return count, datetime.fromtimestamp(newest, UTC)


KEEP, DELETE, REQUEUE = "keep", "delete", "requeue"


def live_output_verdict(session: StreamSession | None, cutoff: datetime,
                        held: Collection[int] = ()) -> tuple[str, str]:
    """What to do with a session's live HLS output (KEEP, DELETE or REQUEUE) and why. `held`:
    sessions a channel report named, whose recording is evidence (app.safety.holds)."""
    if session is None:
        return DELETE, "no session has this name"
    if session.id in held:
        return KEEP, "a channel report names this broadcast: its recording is evidence"
    if session.status != "ended":
        return KEEP, "the session is live"
    ended = session.ended_at or session.publisher_left_at or session.started_at
    if ended is not None and ended > cutoff:
        return KEEP, "the session ended lately; its VOD job may still be running"
    channel = session.channel
    if channel is None:
        return DELETE, "its channel was deleted"
    if db.session.scalar(select(VOD.id).where(VOD.session_id == session.id)) is not None:
        return DELETE, "its recording is a VOD now"
    if not channel.record:
        return DELETE, "its channel does not record"
    return REQUEUE, "a recording without a VOD: its VOD job failed"


class _Sweeper:
    def __init__(self, now: datetime, grace: timedelta, dry_run: bool) -> None:
        self.storage = get_storage()
        self.cutoff = now - grace
        self.result = Sweep(dry_run=dry_run)
        self.requeue_checked: set[int] = set()
        self.held_sessions = set(held_session_ids())

    def remove(self, kind: str, where: str, count: int, reason: str, delete) -> None:
        item = Leftover(kind, where, count, reason)
        if self.result.dry_run:
            self.result.deleted.append(item)
            return
        try:
            delete()
        except Exception as error:  # log it, sweep the rest; the next run retries
            item.error = f"{type(error).__name__}: {error}"
            log.exception("retention: could not delete %s (%s)", where, reason)
            self.result.failed.append(item)
            return
        log.info("retention: deleted %s: %d objects (%s)", where, count, reason)
        self.result.deleted.append(item)

    def remove_objects(self, kind: str, prefix: str, objects: list[StoredObject], reason: str) -> None:
        self.remove(kind, prefix, len(objects), reason,
                    lambda: _delete_objects(self.storage, objects, prefix))

    def requeue(self, session_id: int) -> None:
        """A recorded session with no VOD long after it ended: its VOD job failed. Enqueue it
        again, once; the recording is kept either way."""
        if session_id in self.requeue_checked:
            return
        self.requeue_checked.add(session_id)
        redis = get_redis()
        if self.result.dry_run:
            if not redis.exists(REQUEUED_KEY.format(session_id)):
                self.result.requeued.append(session_id)
            return
        if not redis.set(REQUEUED_KEY.format(session_id), "1", nx=True, ex=REQUEUED_TTL):
            return  # retried before: leave the recording for an operator
        try:
            enqueue_vod(session_id)
        except Exception:  # Redis went away: try again next run
            redis.delete(REQUEUED_KEY.format(session_id))
            log.exception("retention: could not enqueue the VOD job of session %s", session_id)
            return
        log.warning("retention: session %s ended with a recording but no VOD; its VOD job was "
                    "enqueued again (once) and the recording is kept", session_id)
        self.result.requeued.append(session_id)

    def session_named(self, name: str) -> StreamSession | None:
        return db.session.scalar(select(StreamSession).where(StreamSession.internal_name == name))

    # the kinds -------------------------------------------------------------------------------

    def vods(self) -> None:
        for name, objects in _folders(self.storage.list(VOD_PREFIX), VOD_PREFIX):
            prefix = f"{VOD_PREFIX}{name}/"
            if _newest(objects) > self.cutoff:
                continue  # a VOD job may be writing it right now
            if db.session.scalar(select(VOD.id).where(VOD.storage_prefix == prefix)) is None:
                self.remove_objects("vods", prefix, objects, "no VOD refers to it")

    def hls(self) -> None:
        for name, objects in _folders(self.storage.list("hls/"), "hls/"):
            if _newest(objects) > self.cutoff:
                continue
            session = self.session_named(name)
            verdict, reason = live_output_verdict(session, self.cutoff, self.held_sessions)
            if verdict == DELETE:
                self.remove_objects("hls", f"hls/{name}/", objects, reason)
            elif verdict == REQUEUE and session is not None:  # (a requeued one always has a session)
                self.requeue(session.id)

    def local_hls(self) -> None:
        root = hls_root(current_app.config)
        if not root.is_dir():
            return
        for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
            session = self.session_named(directory.name)
            verdict, reason = live_output_verdict(session, self.cutoff, self.held_sessions)
            if verdict == KEEP:
                continue  # checked first: a live folder's parts come and go while we walk it
            try:
                count, newest = _local_files(directory)
            except OSError:
                continue  # changing under us: not a leftover
            if newest > self.cutoff:
                continue
            if verdict == DELETE:
                self.remove("local-hls", str(directory), count, reason,
                            lambda directory=directory: shutil.rmtree(directory))
            elif session is not None:  # REQUEUE, which always has one
                self.requeue(session.id)

    def owned(self, kind: str, model, noun: str) -> None:
        """`<kind>/<id>/` folders whose channel or user is gone."""
        prefix = f"{kind}/"
        for name, objects in _folders(self.storage.list(prefix), prefix):
            if not name.isascii() or not name.isdigit() or _newest(objects) > self.cutoff:
                continue  # not a folder of ours, or written a moment ago
            if db.session.get(model, int(name)) is None:
                self.remove_objects(kind, f"{prefix}{name}/", objects, f"its {noun} was deleted")


def sweep_orphans(now: datetime | None = None, grace: timedelta = DEFAULT_GRACE, *,
                  dry_run: bool = False) -> Sweep:
    """Delete stored objects nothing refers to, once older than `grace`:

    - `vods/<sid>/` with no VOD row whose storage_prefix matches;
    - live HLS, `hls/<name>/` in storage and `MEDIA_ROOT/hls/<name>/` on this box, whose session
      is missing, or ended more than `grace` ago and either became a VOD or belongs to a channel
      that does not record (or is gone). A recorded session that ended without a VOD keeps its
      recording and gets its VOD job enqueued again, once;
    - `thumbnails/<channel id>/` of deleted channels, `profiles/<user id>/` of deleted users.

    Live sessions and anything written within `grace` are never touched. With `dry_run`, the
    result lists what would go and nothing is deleted or enqueued.
    """
    if grace < timedelta(0):
        raise ValueError("the grace period cannot be negative")
    sweeper = _Sweeper(now or utcnow(), grace, dry_run)
    sweeper.vods()
    sweeper.hls()
    sweeper.local_hls()
    sweeper.owned("thumbnails", Channel, "channel")
    sweeper.owned("profiles", User, "user")
    db.session.rollback()  # the sweep only read; end its transaction
    return sweeper.result
