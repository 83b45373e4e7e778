"""VOD rules used by routes, the API, the VOD job and retention: one place for each."""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from rq.job import JobStatus
from sqlalchemy import select

from ..chat import services as chat
from ..extensions import db, optional_redis
from ..jobs import VOD_STAGE, fetch_vod_job
from ..models import VOD, Channel, ChatMessage, StreamSession, User, utcnow
from ..models.vod import VISIBILITY_PRIVATE, VISIBILITY_PUBLIC
from ..safety import holds
from ..storage.backends import get_storage
from .access import can_manage_vods, can_view_vod

log = logging.getLogger(__name__)

MAX_TITLE = 140
PAGE_SIZE = 24
API_LIMIT = 200  # the API lists this many newest videos
MAX_PAGES = 40  # "More" stops growing the grid here; a channel with more has older ones in the API
# Chat replay hands out messages in windows of time; a client asks again from the last one.
REPLAY_WINDOW = timedelta(seconds=60)
REPLAY_LIMIT = 500
# After a seek the panel opens with what was said just before the position, however long ago.
REPLAY_CONTEXT = 20
# How long after a recorded broadcast ends the manager says "processing" while no VOD exists,
# when it cannot ask the VOD job (Redis away, or RQ holds no record of it): longer than the job
# ever takes, short enough that a failed job does not say so for ever.
PROCESSING_FOR = timedelta(minutes=30)
DOWNLOAD_CHUNK = 256 * 1024


class VodError(ValueError):
    """A change the creator asked for that breaks a rule; nothing was changed."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- who sees what (the rules: app.vods.access) -------------------------------------------------

def vods_for(channel: Channel, viewer: User | None, *, limit: int | None = None) -> list[VOD]:
    """The channel's VODs newest first: every one for its owner and admins, published ones else."""
    query = select(VOD).where(VOD.channel_id == channel.id)
    if not can_manage_vods(channel, viewer):
        query = query.where(VOD.visibility == VISIBILITY_PUBLIC, VOD.disabled_at.is_(None))
    query = query.order_by(VOD.created_at.desc(), VOD.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def page_of_vods(channel: Channel, viewer: User | None, pages: int) -> tuple[list[VOD], bool]:
    """The first `pages` pages of `vods_for` and whether there are more after them."""
    pages = min(max(pages, 1), MAX_PAGES)
    found = vods_for(channel, viewer, limit=pages * PAGE_SIZE + 1)
    return found[: pages * PAGE_SIZE], len(found) > pages * PAGE_SIZE


def viewable_vod(channel: Channel, vod_id: int, viewer: User | None) -> VOD | None:
    """The channel's VOD `vod_id` if `viewer` may watch it; None (a 404) for anything else."""
    vod = db.session.get(VOD, vod_id)
    if vod is None or vod.channel_id != channel.id or not can_view_vod(vod, viewer):
        return None
    return vod


def owned_vod(channel: Channel, vod_id: int) -> VOD | None:
    """The VOD `vod_id` if it belongs to `channel` (creators manage only their own)."""
    vod = db.session.get(VOD, vod_id)
    if vod is None or vod.channel_id != channel.id:
        return None
    return vod


# --- the creator's changes -----------------------------------------------------------------------

def publish(vod: VOD) -> None:
    """Make the VOD visible to everyone, from now."""
    if vod.visibility != VISIBILITY_PUBLIC:
        vod.visibility = VISIBILITY_PUBLIC
        vod.published_at = utcnow()
        db.session.commit()


def unpublish(vod: VOD) -> None:
    """Back to private: only the owner and admins see it, its objects included."""
    if vod.visibility != VISIBILITY_PRIVATE:
        vod.visibility = VISIBILITY_PRIVATE
        vod.published_at = None
        db.session.commit()


def set_visibility(vod: VOD, visibility: str) -> None:
    if visibility == VISIBILITY_PUBLIC:
        publish(vod)
    elif visibility == VISIBILITY_PRIVATE:
        unpublish(vod)
    else:
        raise VodError("visibility", "Choose public or private.")


def clean_title(title: str | None) -> str:
    """Runs of whitespace (line breaks included) become one space; control characters go."""
    title = "".join(ch for ch in (title or "") if unicodedata.category(ch) not in ("Cc", "Cf"))
    return " ".join(title.split())


def rename(vod: VOD, title: str | None) -> None:
    """Give the VOD a new title of 1 to 140 characters, or raise VodError and change nothing."""
    title = clean_title(title)
    if not title:
        raise VodError("title", "Give the video a title.")
    if len(title) > MAX_TITLE:
        raise VodError("title", f"Titles are at most {MAX_TITLE} characters ({len(title)} now).")
    vod.title = title
    db.session.commit()


# --- the manager's "processing" notice -----------------------------------------------------------

@dataclass(frozen=True)
class Processing:
    """What the video manager says about the channel's last recorded broadcast while it has no VOD."""

    session: StreamSession
    failed: bool = False  # the VOD job gave up, its retries spent: no video is coming
    stage: str | None = None  # what the job is doing or waiting for, when RQ says


# What a VOD job that is not running waits for, by its RQ status (a failed run that RQ retries
# is scheduled; enqueue_vod schedules nothing else).
WAITING = {JobStatus.QUEUED: "waiting for a worker", JobStatus.DEFERRED: "waiting for a worker",
           JobStatus.SCHEDULED: "trying again shortly"}
GAVE_UP = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def processing_notice(channel: Channel) -> Processing | None:
    """The notice for the channel's last broadcast if it was recorded and has no VOD yet.

    Its VOD job says how it stands (app.jobs.fetch_vod_job): waiting or running (with the stage
    the job saved in its meta), failed, or finished without a video (there was no recording).
    When RQ holds no such job (not enqueued yet, or its record expired) or Redis is away, the
    broadcast counts as processing for PROCESSING_FOR after it ended, as it did before the
    notice read the job.
    """
    if not channel.record:
        return None
    session = db.session.scalar(
        select(StreamSession).where(StreamSession.channel_id == channel.id)
        .order_by(StreamSession.id.desc()).limit(1)
    )
    if session is None or session.status != "ended" or session.ended_at is None:
        return None
    if db.session.scalar(select(VOD.id).where(VOD.session_id == session.id)):
        return None
    job = optional_redis().ask(lambda redis: _vod_job_state(session.id, redis), otherwise=None,
                               what="a VOD job's status")
    if job is None:
        return Processing(session) if utcnow() - session.ended_at <= PROCESSING_FOR else None
    status, stage = job
    if status in GAVE_UP:
        return Processing(session, failed=True)
    if status == JobStatus.FINISHED:
        return None  # the job found no recording to make a video of
    waiting = WAITING.get(status) if status is not None else None
    return Processing(session, stage=waiting or stage)


def _vod_job_state(session_id: int, redis) -> tuple[JobStatus | None, str | None] | None:
    """(RQ status, the stage a running job saved) of the session's VOD job, or None without one."""
    job = fetch_vod_job(session_id, redis)
    if job is None:
        return None
    return job.get_status(refresh=False), job.meta.get(VOD_STAGE)


# --- chat replay ---------------------------------------------------------------------------------

def parse_instant(text: str | None, field: str) -> datetime:
    """An ISO 8601 time from a query string, as an aware UTC datetime; naive times count as UTC."""
    if not text:
        raise VodError(field, f"{field} is required: an ISO 8601 time.")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise VodError(field, f"{field} must be an ISO 8601 time, like 2026-01-31T20:15:00Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def replay_messages(vod: VOD, after: datetime, until: datetime | None = None,
                    limit: int = REPLAY_LIMIT) -> list[ChatMessage]:
    """The broadcast's visible chat messages with after < time ≤ until, oldest first.

    `until` defaults to one window after `after` and is capped at one window, so a client cannot
    ask for a whole evening's chat at once.
    """
    if vod.session_id is None:
        return []
    if until is None or until - after > REPLAY_WINDOW:
        until = after + REPLAY_WINDOW
    if until <= after:
        return []
    query = (
        select(ChatMessage)
        .where(ChatMessage.session_id == vod.session_id, ChatMessage.state == "visible",
               ChatMessage.created_at > after, ChatMessage.created_at <= until,
               ~ChatMessage.user_id.in_(chat.awaiting_erasure()))
        .order_by(ChatMessage.created_at, ChatMessage.id)
        .limit(max(1, min(limit, REPLAY_LIMIT)))
    )
    return list(db.session.scalars(query))


def replay_context(vod: VOD, before: datetime, count: int = REPLAY_CONTEXT) -> list[ChatMessage]:
    """The last `count` visible messages said at or before `before`, oldest first: the context
    a seek lands in, however quiet the chat was just then."""
    if vod.session_id is None:
        return []
    query = (
        select(ChatMessage)
        .where(ChatMessage.session_id == vod.session_id, ChatMessage.state == "visible",
               ChatMessage.created_at <= before,
               ~ChatMessage.user_id.in_(chat.awaiting_erasure()))
        .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
        .limit(max(1, min(count, REPLAY_CONTEXT)))
    )
    return list(reversed(db.session.scalars(query).all()))


def replay_items(vod: VOD, messages: list[ChatMessage]) -> list[dict]:
    """Replay messages as the watch page inserts them: rendered by the live chat's own fragment."""
    from ..chat import services as chat

    if not messages:
        return []
    settings = chat.settings_for(vod.channel)
    return [{"id": m.id, "ts": m.created_at.isoformat(), "html": chat.render_message(m, vod.channel, settings)}
            for m in messages]


# --- objects and the API -------------------------------------------------------------------------

def object_path(key: str | None) -> str | None:
    """Where a browser fetches a VOD object: the same path as its key (/vods/<sid>/...), which
    nginx serves after asking the app whether this viewer may see it."""
    if not key:
        return None
    return "/" + key.lstrip("/")


def master_path(vod: VOD) -> str:
    return object_path(vod.object_key) or f"/{vod.storage_prefix}master.m3u8"


def format_duration(seconds: float | None) -> str:
    """h:mm:ss, or m:ss under an hour, as players show it."""
    total = int((seconds or 0) + 0.5)  # half up, as the player's Math.round: 8.5 s reads 0:09 in both
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_size(size: int | None) -> str:
    amount = float(size or 0)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def download_name(vod: VOD) -> str:
    """A file name safe in any browser and file system: ASCII letters, digits and a few marks."""
    ascii_title = unicodedata.normalize("NFKD", vod.display_title()).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9 ._-]+", "", ascii_title)
    name = re.sub(r"\s+", " ", name).strip(" .-_")[:80].strip()
    return f"{name or f'broadcast-{vod.id}'}.mp4"


def open_download(vod: VOD) -> tuple[Iterator[bytes], int | None]:
    """The MP4's bytes in chunks (streamed, never read whole into memory) and its size.

    Raises ObjectMissing (a FileNotFoundError) when the VOD has no MP4 or it is gone.
    """
    from ..storage.backends import ObjectMissing

    if not vod.download_key:
        raise ObjectMissing(f"vod {vod.id} has no download")
    storage = get_storage()
    size = storage.size(vod.download_key)
    handle = storage.open(vod.download_key)
    return _chunks(handle), size


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := handle.read(DOWNLOAD_CHUNK):
            yield chunk
    finally:
        handle.close()


def deletion_hold(vod: VOD) -> str | None:
    """Why the VOD can't be deleted now (the sentence its owner is shown), or None."""
    reason = holds.hold_on(vod)
    return f"This video can't be deleted yet: {reason}" if reason else None


def delete_vod(vod: VOD) -> int:
    """Delete a VOD's objects, then its row. Returns the number of objects deleted.

    Refused (VodError, nothing touched) while the VOD is evidence a case, an appeal or a DMCA
    notice still needs (app.safety.holds): the owner's button and retention go through here alike.
    Objects go first: if storage fails, the row (and the creator's delete button) stays, and a
    second try finishes the job; a row-less leftover would only be found by the orphan sweep.
    """
    if (refusal := deletion_hold(vod)) is not None:
        raise VodError("hold", refusal)
    count = get_storage().delete_prefix(vod.storage_prefix) if vod.storage_prefix else 0
    log.info("vod %s (channel %s): deleted with %d objects", vod.id, vod.channel_id, count)
    db.session.delete(vod)
    db.session.commit()
    return count
