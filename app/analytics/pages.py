"""What the creator's analytics pages show: the reports (app.analytics.reports) turned into KPI
tiles, charts and tables (app.analytics.charts). No Flask request in here."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ..models import VOD, StreamSession
from ..streams import viewers
from . import charts, collect, reports
from .charts import Series, breakdown, histogram, kpi, ms_buckets, retention_curve, time_series

RANGES = (7, 28, 90, 365)
DEVICE_NAMES = {"phone": "Phone", "tablet": "Tablet", "tv": "TV", "desktop": "Desktop"}


def hours(seconds: float) -> str:
    return charts.format_duration(seconds)


def percent(ratio: float | None, digits: int = 1) -> str:
    """A ratio as the pages write it: "7.9 %", or a dash when there was nothing to divide."""
    return charts.format_percent(_percent(ratio), digits)


def _ms(value: float | None) -> str:
    return charts.format_ms(value) if value is not None else charts.DASH


def day_range(days: int, today: date | None = None) -> tuple[datetime, datetime]:
    """The last `days` days up to today (UTC), as midnights."""
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    return (datetime(first.year, first.month, first.day, tzinfo=UTC),
            datetime(last.year, last.month, last.day, tzinfo=UTC))


def overview(channel_id: int, first: datetime, last: datetime) -> dict:
    """The channel page: KPIs against the period before, daily watch time, broadcasts, VODs."""
    found = reports.channel_overview(channel_id, first, last)
    span = (last - first) + timedelta(days=1)
    before = reports.channel_overview(channel_id, first - span, first - timedelta(days=1)).totals
    now = found.totals
    by_day = {d.day: d for d in found.days}
    dates = [first.date() + timedelta(days=n) for n in range(span.days)]
    moments = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in dates]

    def daily(name: str, scale: float = 1.0) -> list[float]:
        return [getattr(by_day[d], name) / scale if d in by_day else 0.0 for d in dates]

    tiles = [
        kpi("Watch time", now["watch_s"] / 3600, text=hours(now["watch_s"]), previous=before["watch_s"] / 3600,
            trend=[live + vod for live, vod in zip(daily("play_s", 3600), daily("vod_play_s", 3600))]),
        kpi("Views", now["views"], digits=0, previous=before["views"], trend=daily("views")),
        kpi("Unique viewers", now["uniques_upper_bound"], digits=0, previous=before["uniques_upper_bound"],
            sub="summed per day", trend=daily("uniques")),
        kpi("Average view", now["average_view_s"], text=hours(now["average_view_s"]),
            previous=before["average_view_s"]),
        kpi("Peak viewers", now["peak"], digits=0, previous=before["peak"], trend=daily("viewers_max")),
        kpi("Average viewers", now["average_viewers"], previous=before["average_viewers"]),
        kpi("Hours live", now["hours_live"], previous=before["hours_live"]),
        kpi("Followers gained", now["follows"], digits=0, previous=before["follows"], trend=daily("follows")),
        kpi("Chat messages", now["chat_messages"], digits=0, previous=before["chat_messages"],
            trend=daily("chat_messages")),
        kpi("Rebuffering", _percent(now["rebuffer_ratio"]), text=charts.format_percent(_percent(now["rebuffer_ratio"])),
            previous=_percent(before["rebuffer_ratio"]), higher_is_better=False, change_in="points"),
        kpi("Startup (p50 / p95)", now["startup_p50_ms"], higher_is_better=False,
            text=f"{_ms(now['startup_p50_ms'])} / {_ms(now['startup_p95_ms'])}"),
    ]
    watch = time_series("Watch time per day", [
        Series("Live (hours)", list(zip(moments, daily("play_s", 3600))), kind="area"),
        Series("Recordings (hours)", list(zip(moments, daily("vod_play_s", 3600))))],
        y_label="Hours", integer=False, bucket=timedelta(days=1), start=moments[0], end=moments[-1])
    audience = time_series("Viewers per day", [
        Series("Peak", list(zip(moments, daily("viewers_max"))), kind="area"),
        Series("Views", list(zip(moments, daily("views"))))], y_label="Viewers", start=moments[0], end=moments[-1])
    return {"tiles": tiles, "watch_chart": watch, "audience_chart": audience, "broadcasts": found.broadcasts,
            "vods": reports.vods_watched(channel_id, first, last)}


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else 100.0 * ratio


def _minutes_chart(title: str, minutes, marker_label: str = "Peak") -> charts.Chart:
    peak = max(minutes, key=lambda m: m.viewers_max, default=None)
    marker = None
    if peak and peak.viewers_max:
        marker = (peak.minute, peak.viewers_max, f"{marker_label} {peak.viewers_max}")
    return time_series(title, [
        Series("Most at once", [(m.minute, m.viewers_max) for m in minutes], kind="area"),
        Series("Average", [(m.minute, round(m.present_s / 60, 2)) for m in minutes])],
        marker=marker, flows=[(m.minute, m.joins, m.leaves) for m in minutes], y_label="Viewers",
        bucket=timedelta(minutes=1))


def qoe_section(found: dict) -> dict:
    """The QoE tiles and charts of a summary's "qoe" figures."""
    qoe = found["qoe"]
    target = qoe.get("target_latency_ms")
    tiles = [
        kpi("Startup p50", qoe["startup_p50_ms"], text=_ms(qoe["startup_p50_ms"]), higher_is_better=False,
            sub=f"p95 {_ms(qoe['startup_p95_ms'])} · {qoe['startups']} starts"),
        kpi("Failed before playing", qoe["failures"], digits=0, higher_is_better=False,
            sub=f"{charts.format_percent(_percent(qoe['failure_ratio']))} of tries · "
                f"{qoe['exits_before_start']} left before the first frame"),
        kpi("Rebuffering", _percent(qoe["rebuffer_ratio"]), text=charts.format_percent(_percent(qoe["rebuffer_ratio"])),
            higher_is_better=False,
            sub=f"{qoe['rebuffers']} stalls · {charts.format_number(qoe['rebuffers_per_minute'], 2)} per minute"),
        kpi("Latency to live p50", qoe["latency_p50_ms"], text=_ms(qoe["latency_p50_ms"]), higher_is_better=False,
            sub=f"p95 {_ms(qoe['latency_p95_ms'])}" + (f" · target {_ms(target)}" if target else "")),
        kpi("Upscaled", _percent(qoe["upscale_ratio"]), text=charts.format_percent(_percent(qoe["upscale_ratio"])),
            higher_is_better=False, sub="of playing time below the screen's size"),
        kpi("Dropped frames", _percent(qoe["dropped_ratio"]),
            text=charts.format_percent(_percent(qoe["dropped_ratio"]), 2), higher_is_better=False),
    ]
    renditions = breakdown("Time per rendition", [(f"{h}p", s / 60) for h, s in qoe["renditions"].items()],
                           label_header="Rendition", value_header="Minutes played", unit="min")
    startup = histogram("Startup time", ms_buckets(qoe["startup_histogram"]), value_header="Starts")
    latency = histogram("Latency to live", ms_buckets(qoe["latency_histogram"]), value_header="Beats")
    return {"tiles": tiles, "renditions": renditions, "startup": startup, "latency": latency,
            "by_rendition": qoe.get("by_rendition", [])}


def _people(found: dict) -> dict:
    return {"devices": breakdown("Devices", [(DEVICE_NAMES.get(k, k), v) for k, v in found["devices"]],
                                 label_header="Device", value_header="Viewers"),
            "referrers": breakdown("Where viewers came from", [(k, v) for k, v in found["referrers"]],
                                   label_header="Site", value_header="Viewers")}


def broadcast(session: StreamSession) -> dict:
    """A broadcast's page: its summary when written, else the figures so far (still live, or
    ended less than a couple of minutes ago)."""
    found = session.summary or reports.broadcast_figures(session)
    minutes = reports.minutes_of(collect.live_subject(session.id))
    peak_at = datetime.fromisoformat(found["peak_at"]) if found["peak_at"] else None
    tiles = [
        kpi("Peak viewers", found["peak"], digits=0, sub=f"at {charts.as_utc(peak_at):%H:%M} UTC" if peak_at else None),
        kpi("Average viewers", found["average_viewers"]),
        kpi("Unique viewers", found["uniques"], digits=0),
        kpi("Views", found["views"], digits=0),
        kpi("Watch time", found["watch_s"] / 3600, text=hours(found["watch_s"])),
        kpi("Average view", found["average_view_s"], text=hours(found["average_view_s"])),
        kpi("Followers gained", found["follows"], digits=0),
        kpi("Chat messages", found["chat_messages"], digits=0),
        kpi("Live for", found["live_s"], text=hours(found["live_s"])),
    ]
    chat = time_series("Chat and follows per minute", [
        Series("Chat messages", [(m.minute, m.chat_messages) for m in minutes], kind="area"),
        Series("Follows", [(m.minute, m.follows) for m in minutes])], y_label="Per minute")
    return {"figures": found, "tiles": tiles, "viewers_chart": _minutes_chart("Concurrent viewers", minutes),
            "retention": retention_curve("Still watching after joining", found["retention"], x_unit="minutes"),
            "chat_chart": chat, "qoe": qoe_section(found), **_people(found), "final": session.summary is not None}


def live_tile(channel_id: int, session: StreamSession) -> dict:
    """The live tile: the count now, and this broadcast's minutes so far."""
    minutes = reports.minutes_of(collect.live_subject(session.id))
    sessions = reports.sessions_of(collect.live_subject(session.id))
    found = reports.audience(minutes, sessions, reports.broadcast_seconds(session))
    now = viewers.count(channel_id)
    tiles = [kpi("Watching now", now, digits=0, text=None if now is not None else charts.DASH,
                 trend=[m.viewers_max for m in minutes[-30:]]),
             kpi("Peak", max(found["peak"], session.peak_viewers), digits=0),
             kpi("Average viewers", found["average_viewers"]),
             kpi("Unique viewers", found["uniques"], digits=0),
             kpi("Watch time", found["watch_s"] / 3600, text=hours(found["watch_s"]))]
    return {"tiles": tiles, "viewers_chart": _minutes_chart("Concurrent viewers so far", minutes),
            "retention": retention_curve("Still watching after joining (so far)", reports.survival(sessions),
                                         x_unit="minutes", id="live-retention")}


def vod(found_vod: VOD) -> dict:
    found = reports.vod_figures(found_vod)
    tiles = [kpi("Views", found["views"], digits=0), kpi("Unique viewers", found["uniques"], digits=0),
             kpi("Watch time", found["watch_s"] / 3600, text=hours(found["watch_s"])),
             kpi("Average view", found["average_view_s"], text=hours(found["average_view_s"]),
                 sub=f"of {hours(found_vod.duration_seconds or 0)}")]
    return {"figures": found, "tiles": tiles,
            "retention": retention_curve("Audience retention", found["retention"], x_unit="percent",
                                         y_label="Viewers who watched this point"),
            "qoe": qoe_section(found), **_people(found)}


MAX_DAYS = 400


# The earliest day a range may start: no channel has data before it, and it keeps the period
# compared against (as long again, just before) inside the calendar.
EARLIEST = date(2000, 1, 1)


def parse_range(args) -> tuple[datetime, datetime, int | None]:
    """The days a request asks for: `days` (one of RANGES, default 28) or `from` and `to`
    (YYYY-MM-DD, UTC, at most MAX_DAYS). Raises ValueError with what is wrong."""
    if args.get("from") or args.get("to"):
        try:
            first = date.fromisoformat(str(args.get("from", "")))
            last = date.fromisoformat(str(args.get("to", "")))
        except ValueError:
            raise ValueError("from and to must both be dates like 2026-12-01") from None
        if first > last:
            raise ValueError("from must be on or before to")
        if first < EARLIEST or last > datetime.now(UTC).date() + timedelta(days=1):
            raise ValueError(f"dates run from {EARLIEST.isoformat()} to today")
        if (last - first).days + 1 > MAX_DAYS:
            raise ValueError(f"a range is at most {MAX_DAYS} days")
        start, end = day_range((last - first).days + 1, last)
        return start, end, None
    try:
        days = int(args.get("days", 28))
    except ValueError:
        raise ValueError(f"days must be one of {', '.join(map(str, RANGES))}") from None
    if days not in RANGES:
        raise ValueError(f"days must be one of {', '.join(map(str, RANGES))}")
    start, end = day_range(days)
    return start, end, days


DAY_COLUMNS: tuple[str, ...] = (
    "day", "live_s", "viewers_max", "present_s", "play_s", "vod_play_s", "rebuffer_s", "views", "uniques", "joins",
    "chat_messages", "follows")
MINUTE_COLUMNS: tuple[str, ...] = (
    "minute", "viewers_max", "present_s", "joins", "leaves", "play_s", "rebuffer_s", "rebuffers", "errors",
    "failures", "upscale_s", "dropped", "frames", "chat_messages", "follows")


def rows_of(records, columns: tuple[str, ...]) -> list[dict]:
    """Plain rows for the export: dates as ISO text, seconds rounded to 0.1 s."""
    rows = []
    for record in records:
        row = {}
        for name in columns:
            value = getattr(record, name)
            row[name] = value.isoformat() if isinstance(value, date | datetime) else (
                round(value, 1) if isinstance(value, float) else value)
        rows.append(row)
    return rows
