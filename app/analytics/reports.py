"""Figures read back from the rollups: a broadcast's summary, a channel's days, a VOD's
retention, and the series the creator pages chart and the API exports.

Definitions (issue 18, after Mux and Twitch): a viewer is concurrent while playing, starting or
rebuffering; watch time is time actually playing; average viewers is viewer-seconds present ÷
seconds live; a view is a session that played 10 s, counted once an hour per viewer; a unique
viewer is a distinct pseudonym (anonymous ones change daily, so uniques over several days are an
upper bound). Percentiles come from merged histograms, never from averages.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import VOD, ChannelDay, StreamMinute, StreamSession, ViewerSession
from . import collect

VIEW_AFTER_S = 10.0
VIEW_AGAIN_AFTER = timedelta(hours=1)


def merge(histograms: Iterable[dict]) -> dict[str, float]:
    total: dict[str, float] = {}
    for histogram in histograms:
        for name, value in (histogram or {}).items():
            total[str(name)] = total.get(str(name), 0.0) + float(value)
    return total


def percentile(histogram: dict, share: float) -> float | None:
    """The `share` (0–1) percentile of a {upper bound ms: count} histogram ("0" = over the last
    bound), interpolated linearly inside its bucket; None when empty."""
    counts = sorted(((int(bound) or 10**9), float(count)) for bound, count in histogram.items() if float(count) > 0)
    total = sum(count for _, count in counts)
    if not total:
        return None
    wanted, seen, lower = share * total, 0.0, 0.0
    for bound, count in counts:
        if seen + count >= wanted:
            if bound == 10**9:
                return float(lower)  # over the last bound: say "at least"
            return lower + (bound - lower) * ((wanted - seen) / count)
        seen += count
        lower = bound
    return float(lower)


def count_views(sessions: Iterable[ViewerSession]) -> int:
    """Sessions that played VIEW_AFTER_S, a viewer counted again only an hour after their last view."""
    views, last = 0, {}  # type: tuple[int, dict[str, datetime]]
    for session in sorted(sessions, key=lambda s: s.started_at):
        if session.play_s < VIEW_AFTER_S:
            continue
        key = session.viewer_key or f"play:{session.play_id}"
        before = last.get(key)
        if before is None or session.started_at - before >= VIEW_AGAIN_AFTER:
            views += 1
            last[key] = session.started_at
    return views


def started(sessions: Iterable[ViewerSession]) -> list[ViewerSession]:
    """Sessions whose player showed a first frame (or played at all)."""
    return [s for s in sessions if s.startup_ms is not None or s.play_s > 0]


def survival(sessions: list[ViewerSession], step_s: int = 60) -> list[tuple[int, float]]:
    """Live retention: [(minutes after joining, % of sessions still watching)], from 0 to the
    longest stay. A session still open counts up to its last beat."""
    stays = [(s.last_seen_at - s.started_at).total_seconds() for s in started(sessions)]
    if not stays:
        return []
    points = []
    for minute in range(int(max(stays) // step_s) + 1):
        points.append((minute, 100.0 * sum(1 for stay in stays if stay >= minute * step_s) / len(stays)))
    return points


def vod_retention(sessions: list[ViewerSession]) -> list[tuple[int, float]]:
    """[(percent of the video, % of viewers who played that point)] over collect.POSITIONS points."""
    played = [set(s.positions or []) for s in sessions if s.positions]
    if not played:
        return []
    return [(point, 100.0 * sum(1 for p in played if point in p) / len(played))
            for point in range(collect.POSITIONS)]


def _per_viewer(sessions: Iterable[ViewerSession], name: str) -> list[str | None]:
    """Each viewer's `name` (of their first session): breakdowns count viewers, not page loads."""
    first: dict[str, str | None] = {}
    for session in sorted(sessions, key=lambda s: s.started_at):
        first.setdefault(session.viewer_key or session.play_id, getattr(session, name))
    return list(first.values())


def _breakdown(values: Iterable[str | None], empty: str) -> list[tuple[str, int]]:
    return Counter(value or empty for value in values).most_common(10)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def qoe(minutes: list[StreamMinute], sessions: list[ViewerSession]) -> dict:
    """Quality of experience over some minutes and the sessions in them."""
    play = sum(m.play_s for m in minutes)
    rebuffer = sum(m.rebuffer_s for m in minutes)
    startup = merge(m.startup for m in minutes)
    latency = merge(m.latency for m in minutes)
    frames = sum(m.frames for m in minutes)
    tried = [s for s in sessions if s.startup_ms is not None or s.failed or s.ended_at is not None]
    failures = sum(1 for s in sessions if s.failed)
    left_early = sum(1 for s in sessions if s.ended_at and s.startup_ms is None and not s.failed and s.play_s == 0)
    targets = sorted(s.target_ms for s in sessions if s.target_ms)
    return {
        "startups": int(sum(startup.values())),
        "startup_p50_ms": percentile(startup, 0.5), "startup_p95_ms": percentile(startup, 0.95),
        "startup_histogram": startup,
        "failures": failures, "failure_ratio": _ratio(failures, len(tried)), "exits_before_start": left_early,
        "rebuffer_s": rebuffer, "rebuffer_ratio": _ratio(rebuffer, play + rebuffer),
        "rebuffers": sum(m.rebuffers for m in minutes),
        "rebuffers_per_minute": _ratio(sum(m.rebuffers for m in minutes), play / 60),
        "errors": sum(m.errors for m in minutes),
        "latency_p50_ms": percentile(latency, 0.5), "latency_p95_ms": percentile(latency, 0.95),
        "latency_histogram": latency, "target_latency_ms": targets[len(targets) // 2] if targets else None,
        "renditions": merge(m.renditions for m in minutes),
        "by_rendition": by_rendition(minutes),
        "upscale_ratio": _ratio(sum(m.upscale_s for m in minutes), play),
        "dropped_ratio": _ratio(sum(m.dropped for m in minutes), frames),
    }


def by_rendition(minutes: list[StreamMinute]) -> list[dict]:
    """QoE per rendition, tallest first: time played, and the shares rebuffering, upscaled and dropped."""
    played = merge(m.renditions for m in minutes)
    parts: dict[str, dict[str, float]] = {}
    for minute in minutes:
        for height, got in (minute.rendition_qoe or {}).items():
            into = parts.setdefault(str(height), {})
            for name, value in got.items():
                into[name] = into.get(name, 0.0) + float(value)
    rows = []
    for height in sorted(set(played) | set(parts), key=lambda h: -int(h) if h.isdigit() else 0):
        got, play = parts.get(height, {}), played.get(height, 0.0)
        rows.append({"height": height, "play_s": play,
                     "rebuffer_ratio": _ratio(got.get("rebuffer_s", 0.0), play + got.get("rebuffer_s", 0.0)),
                     "upscale_ratio": _ratio(got.get("upscale_s", 0.0), play),
                     "dropped_ratio": _ratio(got.get("dropped", 0.0), got.get("frames", 0.0))})
    return rows


def minutes_of(subject: str) -> list[StreamMinute]:
    return list(db.session.scalars(select(StreamMinute).where(StreamMinute.subject == subject)
                                   .order_by(StreamMinute.minute)))


def sessions_of(subject: str) -> list[ViewerSession]:
    return list(db.session.scalars(select(ViewerSession).where(ViewerSession.subject == subject)))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def audience(minutes: list[StreamMinute], sessions: list[ViewerSession], live_s: float) -> dict:
    peak = max(minutes, key=lambda m: (m.viewers_max, -m.minute.timestamp()), default=None)
    watch = sum(s.play_s for s in sessions)
    began = started(sessions)
    views = count_views(sessions)
    return {
        "peak": peak.viewers_max if peak else 0, "peak_at": _iso(peak.minute) if peak and peak.viewers_max else None,
        "average_viewers": _ratio(sum(m.present_s for m in minutes), live_s) or 0.0,
        "uniques": len({s.viewer_key or s.play_id for s in began}),
        "views": views, "watch_s": watch, "average_view_s": _ratio(watch, views) or 0.0,
        "joins": sum(m.joins for m in minutes), "leaves": sum(m.leaves for m in minutes),
        "chat_messages": sum(m.chat_messages for m in minutes), "follows": sum(m.follows for m in minutes),
        "devices": _breakdown(_per_viewer(began, "device"), "desktop"),
        "referrers": _breakdown(_per_viewer(began, "referrer"), "direct"),
        "embedded": sum(1 for s in began if s.embed),
    }


def broadcast_seconds(session: StreamSession, now: datetime | None = None) -> float:
    start = session.playable_at or session.started_at
    end = session.ended_at or now or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds())


def broadcast_figures(session: StreamSession) -> dict:
    """A broadcast's summary: audience, chat and follows, and QoE (JSON-ready)."""
    subject = collect.live_subject(session.id)
    minutes, sessions = minutes_of(subject), sessions_of(subject)
    live_s = broadcast_seconds(session)
    return {"session_id": session.id, "title": session.title, "started_at": _iso(session.started_at),
            "ended_at": _iso(session.ended_at), "live_s": live_s,
            **audience(minutes, sessions, live_s), "qoe": qoe(minutes, sessions),
            "retention": survival(sessions)}


def vod_figures(vod: VOD) -> dict:
    subject = collect.vod_subject(vod.id)
    minutes, sessions = minutes_of(subject), sessions_of(subject)
    found = audience(minutes, sessions, 0.0)
    found.pop("average_viewers")
    return {"vod_id": vod.id, "title": vod.title, "duration_s": vod.duration_seconds, **found,
            "qoe": qoe(minutes, sessions), "retention": vod_retention(sessions)}


def day_figures(channel_id: int, start: datetime, end: datetime) -> dict:
    """A ChannelDay's columns for [start, end)."""
    minutes = list(db.session.scalars(select(StreamMinute).where(
        StreamMinute.channel_id == channel_id, StreamMinute.minute >= start, StreamMinute.minute < end)))
    sessions = list(db.session.scalars(select(ViewerSession).where(
        ViewerSession.channel_id == channel_id, ViewerSession.started_at >= start, ViewerSession.started_at < end)))
    live = [m for m in minutes if m.subject.startswith("live:")]
    broadcasts = db.session.scalars(select(StreamSession).where(
        StreamSession.channel_id == channel_id, StreamSession.started_at < end,
        (StreamSession.ended_at.is_(None)) | (StreamSession.ended_at >= start)))
    now = datetime.now(UTC)
    live_s = sum(max(0.0, (min(b.ended_at or now, end) - max(b.playable_at or b.started_at, start)).total_seconds())
                 for b in broadcasts)
    return {"live_s": live_s, "viewers_max": max((m.viewers_max for m in live), default=0),
            "present_s": sum(m.present_s for m in live), "play_s": sum(m.play_s for m in live),
            "vod_play_s": sum(m.play_s for m in minutes if m.subject.startswith("vod:")),
            "rebuffer_s": sum(m.rebuffer_s for m in minutes), "views": count_views(sessions),
            "uniques": len({s.viewer_key or s.play_id for s in started(sessions)}),
            "joins": sum(m.joins for m in minutes), "chat_messages": sum(m.chat_messages for m in minutes),
            "follows": sum(m.follows for m in minutes), "startup": merge(m.startup for m in minutes)}


@dataclass
class Overview:
    """A channel over a range of days."""

    days: list[ChannelDay]
    broadcasts: list[StreamSession]
    totals: dict


def channel_overview(channel_id: int, first: datetime, last: datetime) -> Overview:
    """Days [first, last] (dates, UTC) of a channel, and its broadcasts that started in them."""
    days = list(db.session.scalars(select(ChannelDay).where(
        ChannelDay.channel_id == channel_id, ChannelDay.day >= first.date(), ChannelDay.day <= last.date())
        .order_by(ChannelDay.day)))
    broadcasts = list(db.session.scalars(select(StreamSession).where(
        StreamSession.channel_id == channel_id, StreamSession.started_at >= first,
        StreamSession.started_at < last + timedelta(days=1)).order_by(StreamSession.started_at.desc())))
    startup = merge(d.startup for d in days)
    watch = sum(d.play_s + d.vod_play_s for d in days)
    views = sum(d.views for d in days)
    totals = {"watch_s": watch, "live_watch_s": sum(d.play_s for d in days),
              "vod_watch_s": sum(d.vod_play_s for d in days), "views": views,
              "uniques_upper_bound": sum(d.uniques for d in days),
              "average_view_s": _ratio(watch, views) or 0.0,
              "peak": max((d.viewers_max for d in days), default=0),
              "average_viewers": _ratio(sum(d.present_s for d in days), sum(d.live_s for d in days)) or 0.0,
              "hours_live": sum(d.live_s for d in days) / 3600, "follows": sum(d.follows for d in days),
              "chat_messages": sum(d.chat_messages for d in days),
              "rebuffer_ratio": _ratio(sum(d.rebuffer_s for d in days), watch + sum(d.rebuffer_s for d in days)),
              "startup_p50_ms": percentile(startup, 0.5), "startup_p95_ms": percentile(startup, 0.95),
              "broadcasts": len(broadcasts)}
    return Overview(days=days, broadcasts=broadcasts, totals=totals)


def vods_watched(channel_id: int, first: datetime, last: datetime) -> list[tuple[VOD, float]]:
    """The channel's VODs by watch time in the range, most watched first."""
    rows = db.session.execute(select(StreamMinute.vod_id, func.sum(StreamMinute.play_s)).where(
        StreamMinute.channel_id == channel_id, StreamMinute.vod_id.is_not(None),
        StreamMinute.minute >= first, StreamMinute.minute < last + timedelta(days=1))
        .group_by(StreamMinute.vod_id).order_by(func.sum(StreamMinute.play_s).desc()).limit(20)).all()
    vods = {v.id: v for v in db.session.scalars(select(VOD).where(VOD.id.in_([r[0] for r in rows])))}
    return [(vods[vod_id], float(seconds)) for vod_id, seconds in rows if vod_id in vods]


def last_broadcast(channel_id: int) -> StreamSession | None:
    """The channel's latest ended broadcast (its summary may still be being written)."""
    return db.session.scalars(select(StreamSession).where(
        StreamSession.channel_id == channel_id, StreamSession.ended_at.is_not(None))
        .order_by(StreamSession.ended_at.desc()).limit(1)).first()
