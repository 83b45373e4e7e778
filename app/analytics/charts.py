"""Chart geometry for the creator analytics pages: plain data in, SVG-ready shapes out, drawn by the
macros in templates/analytics/_charts.html (no JavaScript, no chart library, no Flask request).

How a chart is drawn. The outer ``<svg>`` has no viewBox: it is as wide as its container and a
fixed number of pixels tall, so its text, markers and gridlines are drawn at their real size on a
390 px phone and on a desktop alike. The data sits in inner ``<svg>`` plots whose viewBox is
``PLOT_WIDTH`` units wide and exactly as tall as the plot in pixels, stretched sideways only
(``preserveAspectRatio="none"``, strokes ``vector-effect: non-scaling-stroke``). Horizontal
positions outside the plots (tick labels, the peak marker) are therefore percentages of the width,
and every vertical position is in pixels. Colours are CSS classes (``chart-s0``... for series),
never inline styles: the CSP forbids them, and the theme picks the colours.

Times are shown in UTC; naive datetimes are taken to be UTC. Every chart carries a title, a
one-line description (its ``<desc>``, written here unless you pass ``description=``), and a
table of the same numbers. A chart without data has ``empty`` set and renders its
``empty_text`` ("No data yet") instead of an exception. Labels are left as given: Jinja
escapes them (never ``|safe`` them: referrer hosts come from users).

Building each chart from plain lists (``t(14, 2)`` standing for a datetime)::

    from app.analytics.charts import (Series, breakdown, diverging_bars, histogram, kpi,
                                      ms_buckets, retention_curve, sparkline, time_series)

    ccu = time_series(
        "Concurrent viewers",
        [Series("Most at once", [(t(14, 0), 3), (t(14, 1), 5), (t(14, 2), None), (t(14, 3), 4)], kind="area"),
         Series("Average", [(t(14, 0), 2.5), (t(14, 1), 4.2), (t(14, 2), None), (t(14, 3), 3.1)])],
        marker=(t(14, 1), 5, "Peak 5 viewers"),          # a dot and its label; None for none
        flows=[(t(14, 0), 3, 0), (t(14, 1), 2, 1)],       # joins above the axis, leaves below
        y_label="Viewers",
    )
    churn = diverging_bars("Joins and leaves", [(t(14, 0), 3, 0), (t(14, 1), 2, 1)])
    stay = retention_curve("Still watching", [(0, 100.0), (1, 80.0), (5, 42.5)], x_unit="minutes")
    vod = retention_curve("Audience retention", [(0, 100.0), (30, 71.0), (60, 40.0)], x_unit="seconds")
    vod_pct = retention_curve("Audience retention", [(0, 100.0), (50, 55.0)], x_unit="percent")
    devices = breakdown("Devices", [("Desktop", 12), ("Phone", 30)], label_header="Device",
                        value_header="Sessions")
    startup = histogram("Startup time", [("<250 ms", 4), ("250–500 ms", 9)], value_header="Sessions")
    startup = histogram("Startup time", ms_buckets({"250": 4, "500": 9, "0": 1}))  # a QoE histogram
    trend = sparkline([3, 4, None, 6], title="Viewers, last 30 minutes")
    tile = kpi("Peak viewers", 20, previous=16, trend=[3, 8, 20, 12])
    tile = kpi("Rebuffering", 0.8, text="0.8 %", previous=1.2, higher_is_better=False, change_in="points")

and in a template::

    {% from "analytics/_charts.html" import chart, breakdown_table, kpi_tiles, kpi_tile, sparkline %}
    {{ kpi_tiles([tile, ...], label="This broadcast") }}   {{ kpi_tile(tile, id="watching-now") }}
    {{ chart(ccu) }}   {{ chart(stay, csv_url=url_for(...)) }}   {{ breakdown_table(devices) }}   {{ sparkline(trend) }}

A tile or chart that refreshes itself sits in a fragment whose root carries the hx-get/hx-trigger;
the page includes that fragment, so it works with JavaScript off. Give two charts of one page
different titles, or pass ``id=`` (the ids name the SVGs). The pages need css/analytics.css.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# The inner plots' viewBox width: x runs 0..PLOT_WIDTH and is stretched to the figure's width.
PLOT_WIDTH = 1000
# Room above a plot for its top tick label (drawn above its gridline) and a marker's label.
TOP = 24
# The x tick labels' baseline under the last plot, and an x axis title's under them.
X_LABELS_BELOW = 18
X_TITLE_BELOW = 36
# Between a time series and the joins and leaves under it: room for the lower panel's top label.
FLOWS_GAP = 30
# More time buckets than this and the per-bucket hover zones (native tooltips) are left out:
# the table carries the numbers, and the page stays a few KB.
MAX_HOVERS = 400
NO_DATA = "No data yet"
DASH = "—"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE, HOUR, DAY, WEEK = 60, 3600, 86400, 7 * 86400
# Steps a time axis may take, in seconds; after two weeks it counts in months.
TIME_STEPS = (1, 2, 5, 10, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
              HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, WEEK, 2 * WEEK)
MONTH_STEPS = (1, 3, 6, 12)
# Weekly ticks fall on Mondays (1970-01-01 was a Thursday).
MONDAY_OFFSET = 4 * DAY
# Steps of a position in a video (seconds).
DURATION_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
PERCENT_TICKS = (0.0, 25.0, 50.0, 75.0, 100.0)


# ---------------------------------------------------------------------------------------------
# What the macros draw


@dataclass(frozen=True)
class Series:
    """One line of a time series: (time, value or None) points; None breaks the line."""
    name: str
    points: Sequence[tuple[datetime, float | None]]
    kind: str = "line"  # "line", or "area" (filled down to zero, with its top edge drawn)


@dataclass(frozen=True)
class Tick:
    """An axis tick. x ticks: `at` is a percentage of the width; y ticks: pixels from the top.
    `minor` ticks lose their label on narrow screens."""
    at: float
    label: str
    minor: bool = False
    anchor: str = "middle"
    zero: bool = False


@dataclass(frozen=True)
class Shape:
    """A path in its plot's coordinates (x 0..PLOT_WIDTH, y in pixels from the plot's top)."""
    d: str
    css: str


@dataclass(frozen=True)
class Bar:
    """A rectangle in its plot's coordinates, with its tooltip."""
    x: float
    y: float
    width: float
    height: float
    css: str
    tip: str


@dataclass(frozen=True)
class Hover:
    """A transparent full-height strip of a plot whose native tooltip gives that bucket's numbers."""
    x: float
    width: float
    tip: str


@dataclass(frozen=True)
class Label:
    """Text outside the plots: x a percentage of the width, y the baseline in px. `narrow`, when
    given, replaces the text on phones, a line each (a bucket's label under its bar)."""
    x: float
    y: float
    text: str
    css: str = ""
    anchor: str = "middle"
    narrow: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Marker:
    """A dot on the data (x a percentage, y px from the svg's top) and its label above it."""
    x: float
    y: float
    label: str
    anchor: str
    css: str = "chart-s0"


@dataclass
class Plot:
    """One stretched panel of a chart: its place, gridlines (y ticks) and drawings."""
    top: float
    height: float
    grid: list[Tick] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    hovers: list[Hover] = field(default_factory=list)


@dataclass(frozen=True)
class LegendItem:
    name: str
    css: str


@dataclass(frozen=True)
class Table:
    """The chart's numbers as text: the header row and one tuple of cells per row."""
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass
class Chart:
    """Everything `chart(c)` in _charts.html draws. `kind` names the CSS class chart-<kind>."""
    id: str
    kind: str
    title: str
    description: str
    table: Table
    height: int = 0
    plots: list[Plot] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    x_ticks_y: float = 0
    x_label: str = ""
    x_label_y: float = 0
    y_label: str = ""
    legend: list[LegendItem] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    empty_text: str | None = None

    @property
    def empty(self) -> bool:
        return self.empty_text is not None


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    value: float
    value_text: str
    share: float  # percent of the total
    share_text: str
    bar: float  # the bar's length, percent of the longest row's


@dataclass
class Breakdown:
    """A table with an inline bar per row (`breakdown_table(b)`)."""
    id: str
    title: str
    description: str
    label_header: str
    value_header: str
    rows: list[BreakdownRow]
    total_text: str
    empty_text: str | None = None

    @property
    def empty(self) -> bool:
        return self.empty_text is not None


@dataclass
class Sparkline:
    """A tiny trend line without axes (`sparkline(s)`), `height` px tall and as wide as its box."""
    id: str
    title: str
    description: str
    height: int
    line: str = ""
    area: str = ""
    last_x: float = 0
    last_y: float = 0
    empty: bool = False


@dataclass(frozen=True)
class Change:
    """A KPI against the previous period: `direction` up/down/flat, `good` True/False/None (neutral),
    `text` as shown beside the arrow ("12%", "0.4 pp", "new"), `spoken` for screen readers."""
    direction: str
    good: bool | None
    text: str
    spoken: str


@dataclass
class Kpi:
    label: str
    value_text: str
    sub: str | None = None
    change: Change | None = None
    spark: Sparkline | None = None
    id: str | None = None


# ---------------------------------------------------------------------------------------------
# Numbers and times as text


def format_number(value: float | None, digits: int = 1) -> str:
    """1234 → "1,234"; 3.44 → "3.4"; 3.0 → "3"; None → "—"."""
    if value is None:
        return DASH
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{round(value):,}"
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_percent(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{format_number(value, digits)}%"


def compact_number(value: float) -> str:
    """A tick label: 1500 → "1.5k", 2000000 → "2M", 12 → "12", 0.5 → "0.5"."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return format_number(round(value / size, 2), 2) + suffix
    return format_number(value, 2)


def format_duration(seconds: float) -> str:
    """A position in a video: 75 → "1:15", 3725 → "1:02:05"."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_ms(ms: float) -> str:
    """250 → "250 ms", 1000 → "1 s", 2500 → "2.5 s"."""
    return f"{format_number(ms)} ms" if ms < 1000 else f"{format_number(ms / 1000, 2)} s"


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as the models store them); aware ones are converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def moment_format(moments: Sequence[datetime]) -> Callable[[datetime], str]:
    """How to print these moments in a table or a description: days ("7 Dec 2026") when they are
    all midnights, clock times within one day (with seconds when any has some), else day and time."""
    if len(set(moments)) > 1 and all(m.hour == m.minute == m.second == 0 for m in moments):
        return lambda m: f"{_day(m)} {m.year}"
    clock = "%H:%M:%S" if any(m.second for m in moments) else "%H:%M"
    if not moments or min(moments).date() == max(moments).date():
        return lambda m: m.strftime(clock)
    return lambda m: f"{_day(m)} {m.strftime(clock)}"


def span_text(start: datetime, end: datetime) -> str:
    """"14:00–15:30 UTC", "7 Dec 22:00 – 8 Dec 01:00 UTC" or "1–7 Dec 2026"-like day ranges."""
    if start.date() == end.date():
        return f"{start:%H:%M}–{end:%H:%M} UTC"
    if start.hour == start.minute == end.hour == end.minute == 0:
        return f"{_day(start)} – {_day(end)} {end.year}"
    return f"{_day(start)} {start:%H:%M} – {_day(end)} {end:%H:%M} UTC"


def slug(text: str, prefix: str = "chart") -> str:
    """An element id from a title: "Concurrent viewers" → "chart-concurrent-viewers"."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return f"{prefix}-{words or 'untitled'}"


def _n(value: float) -> str:
    """A coordinate: at most two decimals, no "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _pct(fraction: float) -> float:
    return round(fraction * 100, 2)


# ---------------------------------------------------------------------------------------------
# Scales and ticks


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^n apart) covering [low, high], about `count` of them.
    `integer`: steps of at least 1 (viewers, sessions). The first and last tick are the axis's ends.

    nice_ticks(0, 37) → [0, 10, 20, 30, 40]; nice_ticks(0, 5, integer=True) → [0, 2, 4, 6];
    nice_ticks(0, 0) → [0, 1].
    """
    if high < low:
        low, high = high, low
    if high == low:
        if high == 0:
            high = 1
        elif high > 0:
            low = 0
        else:
            high = 0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = multiple * magnitude
        if integer and (candidate < 1 or not float(round(candidate, 9)).is_integer()):
            continue
        if candidate >= raw * (1 - 1e-9):
            step = candidate
            break
    if integer:
        step = max(1.0, step)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    return [round(first + i * step, 9) for i in range(int(round((last - first) / step)) + 1)]


def time_axis(start: datetime, end: datetime, count: int = 6) -> list[tuple[datetime, str]]:
    """Ticks for a UTC time axis from `start` to `end`: at most about `count`, on round times
    (every 5 min, 3 h, day, Monday, month...), labelled "14:05:30", "14:05", "8 Dec" (a midnight
    among clock times, or a daily step) or "Jan 2027"/"Feb" (months)."""
    start, end = as_utc(start), as_utc(end)
    span = (end - start).total_seconds()
    if span <= 0:
        return [(start, start.strftime("%H:%M"))]
    several_days = start.date() != end.date()
    for step in TIME_STEPS:
        if span / step <= count:
            offset = MONDAY_OFFSET if step % WEEK == 0 else 0
            first = math.ceil((start.timestamp() - offset) / step) * step + offset
            ticks = []
            at = first
            while at <= end.timestamp() + 1e-6:
                moment = EPOCH + timedelta(seconds=at)
                ticks.append((moment, _time_label(moment, step, several_days)))
                at += step
            return ticks
    months = span / (30.44 * DAY)
    month_step = next((m for m in MONTH_STEPS if months / m <= count), 12 * math.ceil(months / 12 / count))
    year, month = start.year, start.month
    if (start.day, start.hour, start.minute, start.second, start.microsecond) != (1, 0, 0, 0, 0):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while (month - 1) % month_step:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    ticks = []
    while (moment := datetime(year, month, 1, tzinfo=UTC)) <= end:
        ticks.append((moment, f"{moment:%b %Y}" if month == 1 or not ticks else f"{moment:%b}"))
        month += month_step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return ticks


def _time_label(moment: datetime, step: int, several_days: bool) -> str:
    if step >= DAY:
        return _day(moment)
    if several_days and moment.hour == moment.minute == moment.second == 0:
        return _day(moment)
    return moment.strftime("%H:%M:%S" if step < MINUTE else "%H:%M")


def duration_ticks(longest: float, count: int = 6) -> list[float]:
    """Round positions in seconds (every 10 s, 1 min, 5 min...) from 0 up to `longest`."""
    step = next((s for s in DURATION_STEPS if longest / s <= count), DURATION_STEPS[-1])
    return [float(i * step) for i in range(int(longest // step) + 1)]


def _x_ticks(positions: Sequence[tuple[float, str]]) -> list[Tick]:
    """Ticks at fractions 0..1 of the width: the ones at the edges lean inwards; beyond five, every
    other one is minor (hidden on phones), keeping the first."""
    ticks = []
    for index, (fraction, label) in enumerate(positions):
        anchor = "start" if fraction < 0.06 else "end" if fraction > 0.94 else "middle"
        ticks.append(Tick(_pct(fraction), label, minor=len(positions) > 5 and index % 2 == 1, anchor=anchor))
    return ticks


# ---------------------------------------------------------------------------------------------
# Paths


def line_path(points: Sequence[tuple[float, float] | None]) -> str:
    """An SVG path through (x, y) points; None starts a new piece (a gap). A lone point between
    gaps is a dot (a zero-length segment, drawn by the round line cap)."""
    pieces: list[str] = []
    for run in _runs(points):
        d = f"M{_n(run[0][0])},{_n(run[0][1])}" + "".join(f"L{_n(x)},{_n(y)}" for x, y in run[1:])
        pieces.append(d + ("h0.01" if len(run) == 1 else ""))
    return "".join(pieces)


def area_path(points: Sequence[tuple[float, float] | None], base: float, lone_width: float = 2) -> str:
    """Closed shapes between the points and the `base` line, one per run between gaps. A lone point
    becomes a sliver `lone_width` wide, so it still shows."""
    pieces: list[str] = []
    for run in _runs(points):
        if len(run) == 1:
            (x, y), half = run[0], lone_width / 2
            run = [(x - half, y), (x + half, y)]
        body = "".join(f"L{_n(x)},{_n(y)}" for x, y in run)
        pieces.append(f"M{_n(run[0][0])},{_n(base)}{body}L{_n(run[-1][0])},{_n(base)}Z")
    return "".join(pieces)


def step_path(points: Sequence[tuple[float, float]]) -> str:
    """A step curve: each value holds until the next point's x, then drops (or rises) to it."""
    if not points:
        return ""
    d = f"M{_n(points[0][0])},{_n(points[0][1])}"
    for (_, y_before), (x, y) in zip(points, points[1:]):
        d += f"H{_n(x)}" + (f"V{_n(y)}" if y != y_before else "")
    return d


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


# ---------------------------------------------------------------------------------------------
# Charts


def _empty(kind: str, title: str, headers: tuple[str, ...], chart_id: str | None, empty_text: str) -> Chart:
    return Chart(id=chart_id or slug(title), kind=kind, title=title, description=empty_text,
                 table=Table(headers, []), empty_text=empty_text)


def _value_grid(plot: Plot, ticks: Sequence[float], low: float, high: float,
                label: Callable[[float], str] = compact_number) -> None:
    for value in ticks:
        plot.grid.append(Tick(round(plot.top + _y(value, low, high, plot.height), 2), label(value), zero=value == 0))


def _y(value: float, low: float, high: float, height: float) -> float:
    """Pixels from a plot's top for `value` on an axis from `low` (bottom) to `high` (top)."""
    return round(height - (value - low) / (high - low) * height, 2)


def _hovers(centres: Sequence[float], tips: Sequence[str]) -> list[Hover]:
    """Strips that meet halfway between neighbouring centres (plot units)."""
    if len(centres) > MAX_HOVERS:
        return []
    hovers = []
    for index, (centre, tip) in enumerate(zip(centres, tips)):
        left = (centre + centres[index - 1]) / 2 if index else 0.0
        right = (centre + centres[index + 1]) / 2 if index + 1 < len(centres) else float(PLOT_WIDTH)
        left, right = max(0.0, left), min(float(PLOT_WIDTH), right)
        if right > left:
            hovers.append(Hover(round(left, 2), round(right - left, 2), tip))
    return hovers


def _bucket_seconds(times: Sequence[datetime], bucket: timedelta | None) -> float:
    if bucket is not None:
        return bucket.total_seconds()
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:]) if b > a]
    return min(gaps) if gaps else 60.0


class _TimeFrame:
    """The x scale of a time chart: UTC seconds from `start` to `end` onto 0..PLOT_WIDTH."""

    def __init__(self, start: datetime, end: datetime):
        if end <= start:  # one moment: a minute either side of it
            start, end = start - timedelta(seconds=30), end + timedelta(seconds=30)
        self.start, self.end = start, end
        self.low, self.span = start.timestamp(), (end - start).total_seconds()

    def fraction(self, moment: datetime) -> float:
        return (moment.timestamp() - self.low) / self.span

    def x(self, moment: datetime) -> float:
        return round(self.fraction(moment) * PLOT_WIDTH, 2)

    def ticks(self) -> list[Tick]:
        return _x_ticks([(self.fraction(moment), label) for moment, label in time_axis(self.start, self.end)])


def _flow_plot(frame: _TimeFrame, flows: Sequence[tuple[datetime, float, float]], names: tuple[str, str],
               top: float, height: float, bucket_s: float, say) -> Plot:
    """Bars above a zero line (the first number: joins) and below it (the second: leaves)."""
    up_max = max((up for _, up, _ in flows), default=0)
    down_max = max((down for _, _, down in flows), default=0)
    ticks = nice_ticks(-down_max, up_max, 3, integer=True)
    low, high = ticks[0], ticks[-1]
    plot = Plot(top=top, height=height)
    _value_grid(plot, ticks, low, high, label=lambda v: compact_number(abs(v)))
    width = max(bucket_s / frame.span * PLOT_WIDTH * 0.72, 0.5)
    zero = _y(0, low, high, height)
    for moment, up, down in flows:
        centre = frame.x(moment)
        if up:
            top_y = _y(up, low, high, height)
            plot.bars.append(Bar(round(centre - width / 2, 2), top_y, round(width, 2), round(zero - top_y, 2),
                                 "chart-bar chart-up", f"{say(moment)} UTC — {names[0]}: {format_number(up)}"))
        if down:
            plot.bars.append(Bar(round(centre - width / 2, 2), zero, round(width, 2),
                                 round(_y(-down, low, high, height) - zero, 2),
                                 "chart-bar chart-down", f"{say(moment)} UTC — {names[1]}: {format_number(down)}"))
    return plot


def time_series(title: str, series: Sequence[Series], *, marker: tuple[datetime, float, str] | None = None,
                flows: Sequence[tuple[datetime, float, float]] | None = None,
                flow_names: tuple[str, str] = ("Joins", "Leaves"), bucket: timedelta | None = None,
                start: datetime | None = None, end: datetime | None = None, y_label: str = "",
                integer: bool = True, description: str | None = None, empty_text: str = NO_DATA,
                id: str | None = None, height: int = 200, flows_height: int = 84) -> Chart:
    """Lines and areas over time (UTC), y from 0; optionally a `marker` (time, value, label) such as
    the peak, and `flows` (time, joins, leaves) as bars above and below an axis in a panel under it.

    `start`/`end` fix the time range (default: the data's, widened by half a bucket when there are
    flows); `bucket` is the flows' bucket length (default: the smallest gap between them);
    `integer`: y ticks at whole numbers. The table has one row per time, a column per series.
    """
    chart_id = id or slug(title)
    flows = [(as_utc(t), up or 0, down or 0) for t, up, down in (flows or [])]
    flows.sort(key=lambda row: row[0])
    lines = [(s, sorted(((as_utc(t), v) for t, v in s.points), key=lambda p: p[0])) for s in series]
    headers = ("Time (UTC)", *(s.name for s in series), *(flow_names if flows else ()))
    values = [v for _, points in lines for _, v in points if v is not None]
    if not values and not any(up or down for _, up, down in flows):
        return _empty("time-series", title, headers, chart_id, empty_text)

    times = sorted({t for _, points in lines for t, _ in points} | {t for t, _, _ in flows})
    bucket_s = _bucket_seconds([t for t, _, _ in flows], bucket)
    pad = timedelta(seconds=bucket_s / 2) if flows else timedelta(0)
    frame = _TimeFrame(as_utc(start) if start else times[0] - pad, as_utc(end) if end else times[-1] + pad)
    say = moment_format(times)

    high_value = max([*values, marker[1] if marker else 0, 0])
    ticks = nice_ticks(0, high_value, 5, integer=integer)
    low, high = ticks[0], ticks[-1]
    main = Plot(top=TOP, height=height)
    _value_grid(main, ticks, low, high)
    legend = []
    for index, (s, points) in enumerate(lines):
        css = f"chart-s{index}"
        coords = [None if v is None else (frame.x(t), _y(v, low, high, height)) for t, v in points]
        if s.kind == "area":
            main.shapes.append(Shape(area_path(coords, _y(0, low, high, height)), f"chart-area {css}"))
        main.shapes.append(Shape(line_path(coords), f"chart-line {css}"))
        legend.append(LegendItem(s.name, f"{css} chart-key-{s.kind}"))

    by_time: dict[datetime, list[str]] = {t: [DASH] * len(headers[1:]) for t in times}
    for index, (_, points) in enumerate(lines):
        for t, v in points:
            by_time[t][index] = format_number(v)
    for t, up, down in flows:
        by_time[t][len(lines):] = [format_number(up), format_number(down)]
    rows = [(say(t), *cells) for t, cells in by_time.items()]
    main.hovers = _hovers([frame.x(t) for t in times],
                          [f"{say(t)} UTC — " + "; ".join(f"{name}: {cell}" for name, cell in zip(headers[1:], cells))
                           for t, cells in by_time.items()])

    plots = [main]
    bottom = TOP + height
    if flows:
        plots.append(_flow_plot(frame, flows, flow_names, bottom + FLOWS_GAP, flows_height, bucket_s, say))
        bottom += FLOWS_GAP + flows_height
        legend += [LegendItem(flow_names[0], "chart-up"), LegendItem(flow_names[1], "chart-down")]

    markers = []
    if marker:
        moment, value, label = as_utc(marker[0]), marker[1], marker[2]
        fraction = frame.fraction(moment)
        anchor = "start" if fraction < 0.12 else "end" if fraction > 0.88 else "middle"
        markers.append(Marker(_pct(fraction), round(TOP + _y(value, low, high, height), 2), label, anchor))

    if description is None:
        parts = [span_text(times[0], times[-1])] if len(times) > 1 else [f"{say(times[0])} UTC"]
        if marker:
            parts.append(f"{marker[2]} at {say(as_utc(marker[0]))}")
        for s, points in lines:
            present = [v for _, v in points if v is not None]
            if present:
                parts.append(f"{s.name}: mean {format_number(sum(present) / len(present))}, "
                             f"high {format_number(max(present))}")
        if flows:
            parts.append(f"{flow_names[0]} {format_number(sum(up for _, up, _ in flows))}, "
                         f"{flow_names[1].lower()} {format_number(sum(down for _, _, down in flows))}")
        description = "; ".join(parts) + "."
    return Chart(id=chart_id, kind="time-series", title=title, description=description, table=Table(headers, rows),
                 height=bottom + X_LABELS_BELOW + 8, plots=plots, x_ticks=frame.ticks(),
                 x_ticks_y=bottom + X_LABELS_BELOW, y_label=y_label, legend=legend, markers=markers)


def diverging_bars(title: str, buckets: Sequence[tuple[datetime, float, float]], *,
                   names: tuple[str, str] = ("Joins", "Leaves"), bucket: timedelta | None = None,
                   start: datetime | None = None, end: datetime | None = None, y_label: str = "",
                   description: str | None = None, empty_text: str = NO_DATA, id: str | None = None,
                   height: int = 140) -> Chart:
    """Per time bucket, the first number as a bar above the axis and the second below it (joins and
    leaves). Give it the time series' `start`/`end` to line it up under that chart."""
    chart_id = id or slug(title)
    rows_in = sorted(((as_utc(t), up or 0, down or 0) for t, up, down in buckets), key=lambda row: row[0])
    headers = ("Time (UTC)", *names)
    if not any(up or down for _, up, down in rows_in):
        return _empty("diverging", title, headers, chart_id, empty_text)
    times = [t for t, _, _ in rows_in]
    bucket_s = _bucket_seconds(times, bucket)
    pad = timedelta(seconds=bucket_s / 2)
    frame = _TimeFrame(as_utc(start) if start else times[0] - pad, as_utc(end) if end else times[-1] + pad)
    say = moment_format(times)
    plot = _flow_plot(frame, rows_in, names, TOP, height, bucket_s, say)
    rows = [(say(t), format_number(up), format_number(down)) for t, up, down in rows_in]
    plot.hovers = _hovers([frame.x(t) for t in times],
                          [f"{when} UTC — {names[0]}: {up}; {names[1]}: {down}" for when, up, down in rows])
    if description is None:
        total_up = sum(up for _, up, _ in rows_in)
        total_down = sum(down for _, _, down in rows_in)
        busiest = max(rows_in, key=lambda row: row[1])
        description = (f"{span_text(times[0], times[-1])}; {names[0]} {format_number(total_up)}, "
                       f"{names[1].lower()} {format_number(total_down)}; most {names[0].lower()} at "
                       f"{say(busiest[0])} ({format_number(busiest[1])}).")
    bottom = TOP + height
    return Chart(id=chart_id, kind="diverging", title=title, description=description, table=Table(headers, rows),
                 height=bottom + X_LABELS_BELOW + 8, plots=[plot], x_ticks=frame.ticks(),
                 x_ticks_y=bottom + X_LABELS_BELOW, y_label=y_label,
                 legend=[LegendItem(names[0], "chart-up"), LegendItem(names[1], "chart-down")])


RETENTION_X_LABELS = {"minutes": "Minutes after joining", "seconds": "Position in the video",
                      "percent": "Position in the video"}


def _minutes_text(minutes: float) -> str:
    return f"{format_number(minutes)} min"


def _whole_percent(value: float) -> str:
    return format_percent(value, 0)


# How an x value reads in the table and description, and under its tick.
RETENTION_X_TEXT: dict[str, Callable[[float], str]] = {
    "minutes": _minutes_text, "seconds": format_duration, "percent": _whole_percent}
RETENTION_X_TICKS: dict[str, Callable[[float], str]] = {
    "minutes": format_number, "seconds": format_duration, "percent": _whole_percent}


def retention_curve(title: str, points: Sequence[tuple[float, float | None]], *, x_unit: str = "minutes",
                    x_label: str | None = None, y_label: str = "Still watching", description: str | None = None,
                    empty_text: str = NO_DATA, id: str | None = None, height: int = 180) -> Chart:
    """A step curve of a percentage (0–100) of sessions or viewers against `x_unit`: "minutes"
    (after joining: live retention), "seconds" (a position in a video, shown as m:ss) or "percent"
    (of the video's duration). Points are (x, percent); None percents are left out."""
    if x_unit not in RETENTION_X_LABELS:
        raise ValueError(f"x_unit must be one of {sorted(RETENTION_X_LABELS)}, not {x_unit!r}")
    chart_id = id or slug(title)
    x_label = RETENTION_X_LABELS[x_unit] if x_label is None else x_label
    say_x = RETENTION_X_TEXT[x_unit]
    clean = sorted((float(x), max(0.0, min(100.0, float(p)))) for x, p in points if p is not None)
    headers = (x_label, f"{y_label} (%)")
    if not clean:
        return _empty("retention", title, headers, chart_id, empty_text)

    # The last value holds for one step, as every other does: the curve ends a step after it.
    xs = [x for x, _ in clean]
    step = min((b - a for a, b in zip(xs, xs[1:]) if b > a), default=1.0)
    x_end = xs[-1] + step
    if x_unit == "percent":
        x_high, x_values = 100.0, list(PERCENT_TICKS)
        x_end = min(x_end, 100.0)
    elif x_unit == "seconds":
        x_high = x_end
        x_values = duration_ticks(x_high)
    else:
        x_high = x_end
        x_values = [x for x in nice_ticks(0, x_high, 6, integer=True) if x <= x_high]
    tick_label = RETENTION_X_TICKS[x_unit]

    plot = Plot(top=TOP, height=height)
    _value_grid(plot, PERCENT_TICKS, 0, 100, label=_whole_percent)
    coords = [(round(x / x_high * PLOT_WIDTH, 2), _y(p, 0, 100, height)) for x, p in clean]
    end_x = round(x_end / x_high * PLOT_WIDTH, 2)
    curve = step_path(coords) + f"H{_n(end_x)}"
    plot.shapes.append(Shape(f"{curve}V{_n(height)}H{_n(coords[0][0])}Z", "chart-area chart-s0"))
    plot.shapes.append(Shape(curve, "chart-line chart-step chart-s0"))
    rows = [(say_x(x), format_percent(p)) for x, p in clean]
    edges = [x for x, _ in coords] + [end_x]
    if len(rows) <= MAX_HOVERS:
        for left, right, (x_text, p_text) in zip(edges, edges[1:], rows):
            if right > left:
                plot.hovers.append(Hover(left, round(right - left, 2), f"{x_text}: {p_text} {y_label.lower()}"))

    if description is None:
        half = next(((x, p) for x, p in clean if p <= 50), None)
        last_x, last_p = clean[-1]
        if half:
            description = (f"Half or more had left by {say_x(half[0])}; {format_percent(last_p)} "
                           f"{y_label.lower()} at {say_x(last_x)}.")
        else:
            description = f"{format_percent(last_p)} {y_label.lower()} at {say_x(last_x)}."
    bottom = TOP + height
    return Chart(id=chart_id, kind="retention", title=title, description=description, table=Table(headers, rows),
                 height=bottom + (X_TITLE_BELOW if x_label else X_LABELS_BELOW) + 8, plots=[plot],
                 x_ticks=_x_ticks([(x / x_high, tick_label(x)) for x in x_values]),
                 x_ticks_y=bottom + X_LABELS_BELOW, x_label=x_label, x_label_y=bottom + X_TITLE_BELOW,
                 y_label=y_label)


def _wrap(label: str, longest: int = 5) -> tuple[str, ...] | None:
    """A bucket's label on two lines for a phone ("<250 ms" → "<250", "ms"), split at its last
    space; None when it is short enough for one."""
    if len(label) <= longest or " " not in label:
        return None
    cut = label.rfind(" ")
    return (label[:cut], label[cut + 1:])


def histogram(title: str, buckets: Sequence[tuple[str, float]], *, value_header: str = "Count",
              label_header: str = "Bucket", y_label: str = "", description: str | None = None,
              empty_text: str = NO_DATA, id: str | None = None, height: int = 160) -> Chart:
    """Vertical bars for labelled buckets in the given order ("<250 ms", "250–500 ms"...), each
    with its count above it; the table adds each bucket's share."""
    chart_id = id or slug(title)
    headers = (label_header, value_header, "Share")
    total = sum(count for _, count in buckets)
    if not buckets or total <= 0:
        return _empty("histogram", title, headers, chart_id, empty_text)
    ticks = nice_ticks(0, max(count for _, count in buckets), 4, integer=True)
    high = ticks[-1]
    plot = Plot(top=TOP, height=height)
    _value_grid(plot, ticks, 0, high)
    slot = PLOT_WIDTH / len(buckets)
    labels = []
    bottom = TOP + height
    wrapped = [_wrap(label) for label, _ in buckets]
    rows = []
    for index, (label, count) in enumerate(buckets):
        share = 100 * count / total
        top_y = _y(count, 0, high, height)
        tip = f"{label}: {format_number(count)} ({format_percent(share)})"
        plot.bars.append(Bar(round(slot * index + slot * 0.14, 2), top_y, round(slot * 0.72, 2),
                             round(height - top_y, 2), "chart-bar chart-s0", tip))
        centre = _pct((index + 0.5) / len(buckets))
        if count:
            labels.append(Label(centre, round(TOP + top_y - 5, 2), format_number(count), "chart-value"))
        labels.append(Label(centre, bottom + X_LABELS_BELOW, label, "chart-category", narrow=wrapped[index]))
        rows.append((label, format_number(count), format_percent(share)))
    if description is None:
        top_label, top_count = max(buckets, key=lambda bucket: bucket[1])
        description = (f"{format_number(total)} in all; most in {top_label} "
                       f"({format_number(top_count)}, {format_percent(100 * top_count / total)}).")
    lines = max(len(w or ()) for w in wrapped) or 1
    return Chart(id=chart_id, kind="histogram", title=title, description=description, table=Table(headers, rows),
                 height=bottom + X_LABELS_BELOW + 14 * (lines - 1) + 8, plots=[plot], y_label=y_label,
                 labels=labels)


def ms_buckets(histogram: dict) -> list[tuple[str, float]]:
    """A QoE histogram {upper bound in ms: count} ("0" or 0: above the last bound) as labelled
    buckets for `histogram()`: [("<250 ms", n), ("250–500 ms", n), ..., ("≥8 s", n)]."""
    bounds = sorted((int(bound), float(count)) for bound, count in histogram.items() if int(bound) > 0)
    over = sum(float(count) for bound, count in histogram.items() if int(bound) <= 0)
    buckets: list[tuple[str, float]] = []
    lower = 0
    for bound, count in bounds:
        label = f"<{format_ms(bound)}" if not lower else f"{_bare_ms(lower, bound)}–{format_ms(bound)}"
        buckets.append((label, count))
        lower = bound
    if over or not bounds:
        buckets.append((f"≥{format_ms(lower)}", over))
    return buckets


def _bare_ms(value: float, unit_of: float) -> str:
    """A range's lower end in the upper end's unit, without it: (250, 500) → "250", (1000, 2000) → "1"."""
    return format_number(value) if unit_of < 1000 else format_number(value / 1000, 2)


def breakdown(title: str, rows: Iterable[tuple[str | None, float]], *, label_header: str = "",
              value_header: str = "", unit: str = "", digits: int = 1, limit: int = 10, other: str = "Other",
              unknown: str = "Unknown", description: str | None = None, empty_text: str = NO_DATA,
              id: str | None = None) -> Breakdown:
    """Label, value and share of the total, largest first, with a bar each (HTML table, no SVG
    chart); rows past `limit` are summed into one `other` row. Empty labels read `unknown`.
    `unit` follows each value ("h", "GB")."""
    chart_id = id or slug(title, "breakdown")
    merged: dict[str, float] = {}
    for label, value in rows:
        key = label or unknown
        merged[key] = merged.get(key, 0) + (value or 0)
    ordered = sorted(((label, value) for label, value in merged.items() if value > 0), key=lambda row: -row[1])
    total = sum(value for _, value in ordered)
    if not ordered:
        return Breakdown(chart_id, title, empty_text, label_header, value_header, [], "0", empty_text)
    if len(ordered) > limit:
        ordered = [*ordered[:limit - 1], (other, sum(value for _, value in ordered[limit - 1:]))]
    longest = max(value for _, value in ordered)
    suffix = f" {unit}" if unit else ""
    shaped = [BreakdownRow(label, value, format_number(value, digits) + suffix, 100 * value / total,
                           format_percent(100 * value / total), round(100 * value / longest, 2))
              for label, value in ordered]
    if description is None:
        description = (f"{shaped[0].label} leads with {shaped[0].share_text} ({shaped[0].value_text} of "
                       f"{format_number(total, digits)}{suffix}); {len(merged)} in all.")
    return Breakdown(chart_id, title, description, label_header, value_header, shaped,
                     format_number(total, digits) + suffix)


SPARK_PAD = 3


def sparkline(values: Sequence[float | None], *, title: str = "Trend", description: str | None = None,
              zero_based: bool = True, id: str | None = None, height: int = 36) -> Sparkline:
    """A tiny line over evenly spaced values (oldest first; None is a gap), with a dot on the last.
    `zero_based`: the y axis starts at 0 (counts); otherwise at the lowest value (a p95 in ms)."""
    spark_id = id or slug(title, "spark")
    present = [v for v in values if v is not None]
    if not present:
        return Sparkline(spark_id, title, description or NO_DATA, height, empty=True)
    low = min(0.0, *present) if zero_based else min(present)
    high = max(present)
    if high == low:
        high = low + 1
    inner = height - 2 * SPARK_PAD
    count = len(values)

    def at(index: int, value: float) -> tuple[float, float]:
        x = PLOT_WIDTH * (index / (count - 1) if count > 1 else 0.5)
        return round(x, 2), round(SPARK_PAD + _y(value, low, high, inner), 2)

    coords = [None if v is None else at(i, v) for i, v in enumerate(values)]
    last_index = max(i for i, v in enumerate(values) if v is not None)
    last_value = values[last_index]
    assert last_value is not None  # the last index with a value
    last_x, last_y = at(last_index, last_value)
    if description is None:
        description = (f"{len(present)} values: low {format_number(min(present))}, high "
                       f"{format_number(max(present))}, last {format_number(present[-1])}.")
    return Sparkline(spark_id, title, description, height, line=line_path(coords),
                     area=area_path(coords, height - SPARK_PAD), last_x=_pct(last_x / PLOT_WIDTH), last_y=last_y)


def change(current: float | None, previous: float | None, *, higher_is_better: bool | None = True,
           change_in: str = "percent", digits: int = 1) -> Change | None:
    """The change from `previous` to `current`: in percent of previous ("12%" up), or in percentage
    points (`change_in="points"`, for values that are percentages: "0.4 pp" down). None when either
    is missing. `higher_is_better` None: neither direction is good or bad."""
    if current is None or previous is None:
        return None
    if change_in == "points":
        delta = current - previous
        amount, unit, spoken_unit = abs(delta), " pp", " percentage points"
    elif change_in == "percent":
        if previous == 0:
            if current == 0:
                return Change("flat", None, "±0%", "The same as the previous period")
            direction = "up" if current > 0 else "down"
            return Change(direction, _good(direction, higher_is_better), "new",
                          f"{direction.capitalize()} from 0 in the previous period")
        delta = (current - previous) / abs(previous) * 100
        amount, unit, spoken_unit = abs(delta), "%", "%"
    else:
        raise ValueError(f"change_in must be 'percent' or 'points', not {change_in!r}")
    shown = format_number(round(amount, digits), digits)
    if shown == "0":
        return Change("flat", None, f"±0{unit}", "About the same as the previous period")
    direction = "up" if delta > 0 else "down"
    return Change(direction, _good(direction, higher_is_better), f"{shown}{unit}",
                  f"{direction.capitalize()} {shown}{spoken_unit} on the previous period")


def _good(direction: str, higher_is_better: bool | None) -> bool | None:
    return None if higher_is_better is None else (direction == "up") == higher_is_better


def kpi(label: str, value: float | None, *, text: str | None = None, unit: str = "", digits: int = 1,
        previous: float | None = None, higher_is_better: bool | None = True, change_in: str = "percent",
        sub: str | None = None, trend: Sequence[float | None] | None = None, id: str | None = None) -> Kpi:
    """A KPI tile: `label`, the value (`text` if given, else the number with `unit`), an optional
    `sub` line, the change against `previous`, and a sparkline of `trend` (oldest first)."""
    value_text = text if text is not None else (DASH if value is None else format_number(value, digits)
                                                 + (f" {unit}" if unit else ""))
    spark = None
    if trend:
        spark = sparkline(trend, title=f"{label}: trend", id=slug(id or label, "spark"))
    return Kpi(label, value_text, sub, change(value, previous, higher_is_better=higher_is_better,
                                              change_in=change_in, digits=digits), spark, id)
