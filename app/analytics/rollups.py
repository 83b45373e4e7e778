"""The rollup job's work: Redis's player sessions and minutes into the database, the broadcast
summary once its viewers have gone, and the channel's days.

Rows are written with absolute values by one upsert (INSERT … ON CONFLICT DO UPDATE, the same on
PostgreSQL and SQLite ≥ 3.24): Redis holds the running totals, so a job that dies half way, or
two that race, write the same rows again and nothing is counted twice. A key leaves the dirty set
only if it did not change after the job read it.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import VOD, Channel, ChannelDay, ChatMessage, Follow, StreamMinute, StreamSession, ViewerSession
from . import collect, reports

log = logging.getLogger(__name__)

BATCH = 500
SUMMARY_AFTER = collect.WINDOW_SECONDS + 10  # every viewer of an ended broadcast has left by then
_SESSION_NUMBERS = ("play_s", "rebuffer_s", "upscale_s")
_SESSION_COUNTS = ("rebuffers", "errors", "dropped", "frames")
_MINUTE_NUMBERS = ("present_s", "play_s", "rebuffer_s", "upscale_s")
_MINUTE_COUNTS = ("viewers_max", "joins", "leaves", "rebuffers", "errors", "failures", "dropped", "frames")


def upsert(model, rows: list[dict], keys: tuple[str, ...], columns: tuple[str, ...] | None = None) -> None:
    """Insert `rows`, or set `columns` (all but the keys by default) where a row with the same
    `keys` exists: one statement, the same on PostgreSQL and SQLite."""
    if not rows:
        return
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model).values(rows)
    columns = columns or tuple(name for name in rows[0] if name not in keys)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in columns}))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def _moment(value: str | float) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def _histogram(found: dict[str, str], prefix: str) -> dict[str, float]:
    return {name[len(prefix):]: float(value) for name, value in found.items() if name.startswith(prefix)}


def _session_row(found: dict[str, str], play_id: str) -> dict:
    positions = sorted(int(name[2:]) for name in found if name.startswith("p:"))
    return {
        "subject": found["subject"], "play_id": play_id, "channel_id": int(found["channel"]),
        "stream_session_id": _int_or_none(found.get("session")), "vod_id": _int_or_none(found.get("vod")),
        "viewer_key": found.get("viewer_key", ""), "started_at": _moment(found["started"]),
        "last_seen_at": _moment(found.get("last_seen", found["started"])),
        "ended_at": _moment(found["ended"]) if found.get("ended") else None,
        "joined_after_s": float(found["joined_after"]) if found.get("joined_after") else None,
        "state": "ended" if found.get("ended") else found.get("state", "starting"),
        **{name: float(found.get(name, 0)) for name in _SESSION_NUMBERS},
        **{name: int(float(found.get(name, 0))) for name in _SESSION_COUNTS},
        "startup_ms": _int_or_none(found.get("startup_ms")), "target_ms": _int_or_none(found.get("target_ms")),
        "failed": found.get("failed"),
        "renditions": _histogram(found, "r:"), "latency": _histogram(found, "l:"), "positions": positions,
        "device": found.get("device", "desktop"), "referrer": found.get("referrer"),
        "embed": found.get("embed") == "1",
    }


def _minute_row(found: dict[str, str], minute: int) -> dict:
    return {
        "subject": found["subject"], "channel_id": int(found["channel"]),
        "stream_session_id": _int_or_none(found.get("session")), "vod_id": _int_or_none(found.get("vod")),
        "minute": _moment(minute),
        **{name: float(found.get(name, 0)) for name in _MINUTE_NUMBERS},
        **{name: int(float(found.get(name, 0))) for name in _MINUTE_COUNTS},
        "renditions": _histogram(found, "r:"), "startup": _histogram(found, "st:"), "latency": _histogram(found, "l:"),
        "rendition_qoe": _per_rendition(found),
    }


_RENDITION_FIELDS = {"qr": "rebuffer_s", "qu": "upscale_s", "qd": "dropped", "qf": "frames"}


def _per_rendition(found: dict[str, str]) -> dict[str, dict[str, float]]:
    by: dict[str, dict[str, float]] = {}
    for name, value in found.items():
        kind, _, height = name.partition(":")
        if kind in _RENDITION_FIELDS:
            by.setdefault(height, {})[_RENDITION_FIELDS[kind]] = float(value)
    return by


def _existing(model, ids: set[int]) -> set[int]:
    ids = {found for found in ids if found is not None}
    if not ids:
        return set()
    return set(db.session.scalars(select(model.id).where(model.id.in_(ids))))


def _keep_references(rows: list[dict]) -> list[dict]:
    """Rows of a channel deleted meanwhile are dropped; a deleted VOD or session leaves NULL."""
    channels = _existing(Channel, {row["channel_id"] for row in rows})
    sessions = _existing(StreamSession, {row["stream_session_id"] for row in rows})
    vods = _existing(VOD, {row["vod_id"] for row in rows})
    kept = []
    for row in rows:
        if row["channel_id"] not in channels:
            continue
        if row["stream_session_id"] not in sessions:
            row["stream_session_id"] = None
        if row["vod_id"] not in vods:
            row["vod_id"] = None
        kept.append(row)
    return kept


def write_dirty(redis, now: float | None = None) -> dict[str, int]:
    """Write every session and minute changed in Redis since the last run; returns the counts
    and the (channel, day)s touched under "days"."""
    moment = datetime.now(UTC).timestamp() if now is None else now
    base = collect.prefix()
    collect.close_silent(redis, moment)
    keys = [_text(key) for key in redis.zrangebyscore(f"{base}:dirty", "-inf", moment)]
    sessions: list[dict] = []
    minutes: list[dict] = []
    for start in range(0, len(keys), BATCH):
        chunk = keys[start:start + BATCH]
        pipe = redis.pipeline(transaction=False)
        for key in chunk:
            pipe.hgetall(key)
        for key, raw in zip(chunk, pipe.execute()):
            found = {_text(name): _text(value) for name, value in raw.items()}
            if not found.get("subject") or not found.get("channel"):
                continue  # expired since it was marked
            kind, rest = key[len(base) + 1:].split(":", 1)
            tail = rest.rsplit(":", 1)[1]
            if kind == "s" and found.get("started"):
                sessions.append(_session_row(found, tail))
            elif kind == "m":
                minutes.append(_minute_row(found, int(tail)))
    sessions, minutes = _keep_references(sessions), _keep_references(minutes)
    for start in range(0, len(sessions), BATCH):
        upsert(ViewerSession, sessions[start:start + BATCH], ("subject", "play_id"))
    for start in range(0, len(minutes), BATCH):
        upsert(StreamMinute, minutes[start:start + BATCH], ("subject", "minute"))
    db.session.commit()
    redis.zremrangebyscore(f"{base}:dirty", "-inf", moment)
    days = {(row["channel_id"], row["minute"].date()) for row in minutes}
    return {"sessions": len(sessions), "minutes": len(minutes), "days": len(roll_days(days))}


def _per_minute(moments) -> Counter:
    return Counter(_moment(collect.minute_of(moment.timestamp())) for moment in moments)


def fill_chat_and_follows(session: StreamSession, since: datetime | None = None) -> None:
    """The broadcast's chat messages and follows gained, per minute, into its minute rows: all of
    them, or (a live broadcast, each run) its minutes from the one `since` falls in."""
    end = session.ended_at or datetime.now(UTC)
    start = session.started_at
    if since is not None:
        start = max(start, _moment(collect.minute_of(since.timestamp())))
    chat = _per_minute(db.session.scalars(select(ChatMessage.created_at).where(
        ChatMessage.channel_id == session.channel_id, ChatMessage.created_at >= start,
        ChatMessage.created_at <= end)))
    follows = _per_minute(db.session.scalars(select(Follow.created_at).where(
        Follow.channel_id == session.channel_id, Follow.created_at >= start,
        Follow.created_at <= end)))
    rows = [{"subject": collect.live_subject(session.id), "channel_id": session.channel_id,
             "stream_session_id": session.id, "minute": minute, "chat_messages": chat[minute],
             "follows": follows[minute], "renditions": {}, "rendition_qoe": {}, "startup": {}, "latency": {}}
            for minute in sorted(set(chat) | set(follows))]
    upsert(StreamMinute, rows, ("subject", "minute"), ("chat_messages", "follows"))
    db.session.commit()


LIVE_CHAT_LOOKBACK = timedelta(minutes=3)  # each run recounts its live broadcasts' last minutes


def fill_live_chat(now: datetime | None = None) -> int:
    """Chat and follows per minute of every broadcast still live, for its last few minutes (the
    summary recounts the whole broadcast at the end). Returns how many broadcasts."""
    moment = now or datetime.now(UTC)
    live = db.session.scalars(select(StreamSession).where(StreamSession.ended_at.is_(None))).all()
    for session in live:
        fill_chat_and_follows(session, since=moment - LIVE_CHAT_LOOKBACK)
    return len(live)


def summarize(session: StreamSession) -> dict:
    """Write the broadcast's summary (its minutes' chat and follows first)."""
    fill_chat_and_follows(session)
    figures = reports.broadcast_figures(session)
    session.summary = figures
    session.summary_at = datetime.now(UTC)
    db.session.commit()
    roll_days({(session.channel_id, day) for day in _days(session.started_at, session.ended_at or session.started_at)})
    return figures


def _days(start: datetime, end: datetime) -> list[date]:
    return [start.date() + timedelta(days=n) for n in range((end.date() - start.date()).days + 1)]


def summarize_due(now: datetime | None = None) -> list[int]:
    """Summarise every broadcast that ended at least SUMMARY_AFTER ago (and within a day) and has
    no summary yet: the job finds them, so no enqueue can be lost."""
    moment = now or datetime.now(UTC)
    due = db.session.scalars(select(StreamSession).where(
        StreamSession.ended_at.is_not(None), StreamSession.summary_at.is_(None),
        StreamSession.ended_at <= moment - timedelta(seconds=SUMMARY_AFTER),
        StreamSession.ended_at >= moment - timedelta(days=1))).all()
    done = []
    for session in due:
        summarize(session)
        done.append(session.id)
    return done


def roll_days(days: set[tuple[int, date]]) -> set[tuple[int, date]]:
    """Recompute each (channel, day) from its minutes and sessions."""
    rows = []
    for channel_id, day in sorted(days):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        rows.append({"channel_id": channel_id, "day": day,
                     **reports.day_figures(channel_id, start, start + timedelta(days=1))})
    upsert(ChannelDay, rows, ("channel_id", "day"))
    db.session.commit()
    return days


def expire(now: datetime | None = None) -> dict[str, int]:
    """Delete raw sessions and minute rollups past their retention (the daily rows stay)."""
    moment = now or datetime.now(UTC)
    config = current_app.config
    sessions = cast(CursorResult, db.session.execute(delete(ViewerSession).where(
        ViewerSession.last_seen_at < moment - timedelta(days=config["ANALYTICS_RAW_DAYS"])))).rowcount
    minutes = cast(CursorResult, db.session.execute(delete(StreamMinute).where(
        StreamMinute.minute < moment - timedelta(days=config["ANALYTICS_MINUTE_DAYS"])))).rowcount
    db.session.commit()
    return {"viewer_sessions": sessions or 0, "stream_minutes": minutes or 0}
