"""The analytics charts: their geometry (ticks, scales, gaps, markers, the percent axis, empty
data) from app/analytics/charts.py, and what the macros of analytics/_charts.html make of it
(role="img" named by a title and a description, the same numbers in a table, labels escaped)."""
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app import create_app
from app.analytics import charts
from app.analytics.charts import Series
from tests.conftest import base_config

SVG = ""  # inline SVG in HTML needs no namespace, so the XML parser sees none


def t(hour: int, minute: int = 0, second: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, second)


def minutes(values, start=None):
    start = start or t(14)
    return [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]


@pytest.fixture(scope="module")
def macros():
    """The macros through the app's own Jinja environment (autoescaping as on the pages). Nothing
    here touches the database, so the app gets an unused in-memory one."""
    app = create_app(base_config("sqlite://"))
    return app.jinja_env.get_template("analytics/_charts.html").module


def parse(html: str) -> ET.Element:
    """The macros' output is well-formed XML (without a CSV link): parse it as such."""
    return ET.fromstring(f"<root>{html}</root>")


def svg_of(figure: ET.Element) -> ET.Element:
    found = figure.find(".//svg")
    assert found is not None
    return found


def table_cells(root: ET.Element) -> list[list[str]]:
    return [[(cell.text or "") for cell in row] for row in root.iter("tr")][1:]


# --- ticks and scales ------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high", "integer", "expected"), [
    (0, 37, False, [0, 10, 20, 30, 40]),
    (0, 5, True, [0, 2, 4, 6]),
    (0, 1, True, [0, 1]),
    (0, 0, True, [0, 1]),
    (0, 0.37, False, [0, 0.1, 0.2, 0.3, 0.4]),
    (0, 0.3, True, [0, 1]),
    (-3, 7, True, [-5, 0, 5, 10]),
    (0, 1234, True, [0, 500, 1000, 1500]),
    (12, 12, True, [0, 5, 10, 15]),
])
def test_nice_ticks_are_round_and_cover_the_data(low, high, integer, expected):
    ticks = charts.nice_ticks(low, high, integer=integer)
    assert ticks == expected
    assert ticks[0] <= low and ticks[-1] >= high


def test_integer_ticks_never_fall_between_whole_numbers():
    for high in range(1, 200):
        ticks = charts.nice_ticks(0, high, integer=True)
        assert all(float(tick).is_integer() for tick in ticks), (high, ticks)
        assert 2 <= len(ticks) <= 7, (high, ticks)


@pytest.mark.parametrize(("start", "end", "labels"), [
    (t(14), t(14, 45), ["14:00", "14:10", "14:20", "14:30", "14:40"]),
    (t(14, 3), t(16, 50), ["14:30", "15:00", "15:30", "16:00", "16:30"]),
    (t(14, 0, 5), t(14, 1), ["14:00:10", "14:00:20", "14:00:30", "14:00:40", "14:00:50", "14:01:00"]),
    # Across midnight: the midnight tick says which day it starts.
    (t(21, 10), t(2, 0, day=8), ["22:00", "23:00", "8 Dec", "01:00", "02:00"]),
    (t(0, day=1), t(0, day=6), ["1 Dec", "2 Dec", "3 Dec", "4 Dec", "5 Dec", "6 Dec"]),
    # Weeks start on Mondays (7 December 2026 is one).
    (t(0, day=1), t(0, day=31), ["7 Dec", "14 Dec", "21 Dec", "28 Dec"]),
    (datetime(2026, 1, 15), datetime(2027, 2, 1), ["Apr 2026", "Jul", "Oct", "Jan 2027"]),
])
def test_time_axis_ticks_fall_on_round_utc_times(start, end, labels):
    ticks = charts.time_axis(start, end)
    assert [label for _, label in ticks] == labels
    assert all(start.replace(tzinfo=UTC) <= moment <= end.replace(tzinfo=UTC) for moment, _ in ticks)


def test_times_are_shown_in_utc():
    paris = timezone(timedelta(hours=1))
    chart = charts.time_series("Viewers", [Series("Viewers", [(datetime(2026, 12, 7, 15, 0, tzinfo=paris), 2),
                                                              (datetime(2026, 12, 7, 15, 5, tzinfo=paris), 4)])])
    assert [row[0] for row in chart.table.rows] == ["14:00", "14:05"]
    assert chart.description.startswith("14:00–14:05 UTC")
    assert chart.table.headers[0] == "Time (UTC)"


# --- time series -----------------------------------------------------------------------------


def test_none_breaks_the_line_and_the_area():
    chart = charts.time_series("Viewers", [Series("Most", minutes([1, 3, None, 4, 4, None, None, 2]), kind="area")])
    area, line = chart.plots[0].shapes
    assert area.css == "chart-area chart-s0" and line.css == "chart-line chart-s0"
    # Three runs: [1, 3], [4, 4] and the lone 2 (a dot on the line, a sliver of area).
    assert line.d.count("M") == 3 and area.d.count("M") == 3 and area.d.count("Z") == 3
    assert line.d.endswith("h0.01")
    x_of = [float(x) for x in re.findall(r"[ML]([\d.]+),", line.d)]
    assert x_of == pytest.approx([0, 142.86, 428.57, 571.43, 1000], abs=0.01)
    # The table keeps the gaps as dashes.
    assert [row[1] for row in chart.table.rows] == ["1", "3", "—", "4", "4", "—", "—", "2"]


def test_y_axis_starts_at_zero_and_covers_the_peak():
    chart = charts.time_series("Viewers", [Series("Most", minutes([3, 5, 4]))])
    grid = chart.plots[0].grid
    assert [tick.label for tick in grid] == ["0", "2", "4", "6"]
    assert grid[0].zero and grid[0].at == charts.TOP + 200  # the bottom of the plot
    assert grid[-1].at == charts.TOP  # the top
    # 5 of 6: five sixths of the way up.
    line = chart.plots[0].shapes[0].d
    assert "L500,33.33" in line


def test_the_peak_marker_sits_on_its_point():
    data = minutes([1, 2, 5, 3, 2])
    chart = charts.time_series("Viewers", [Series("Most", data, kind="area")],
                               marker=(t(14, 2), 5, "Peak 5 viewers"))
    marker, = chart.markers
    assert marker.x == 50.0  # 14:02 of 14:00–14:04
    assert marker.y == pytest.approx(charts.TOP + 200 - 5 / 6 * 200, abs=0.01)
    assert marker.label == "Peak 5 viewers" and marker.anchor == "middle"
    assert "Peak 5 viewers at 14:02" in chart.description
    # Near an edge its label leans inwards.
    left = charts.time_series("V", [Series("Most", data)], marker=(t(14), 1, "First")).markers[0]
    right = charts.time_series("V", [Series("Most", data)], marker=(t(14, 4), 2, "Last")).markers[0]
    assert (left.anchor, right.anchor) == ("start", "end")


def test_several_series_share_one_table_and_the_description():
    most = minutes([3, 5, None, 4])
    mean = minutes([2.5, 4.25, None, 3.1])
    chart = charts.time_series("Concurrent viewers", [Series("Most at once", most, kind="area"),
                                                      Series("Average", mean)],
                               marker=(t(14, 1), 5, "Peak 5 viewers"))
    assert chart.table.headers == ("Time (UTC)", "Most at once", "Average")
    assert chart.table.rows == [("14:00", "3", "2.5"), ("14:01", "5", "4.2"), ("14:02", "—", "—"),
                                ("14:03", "4", "3.1")]
    assert chart.description == ("14:00–14:03 UTC; Peak 5 viewers at 14:01; Most at once: mean 4, high 5; "
                                 "Average: mean 3.3, high 4.2.")
    assert [item.name for item in chart.legend] == ["Most at once", "Average"]
    assert [shape.css for shape in chart.plots[0].shapes] == [
        "chart-area chart-s0", "chart-line chart-s0", "chart-line chart-s1"]
    # One hover strip a minute, meeting halfway; together they span the plot.
    hovers = chart.plots[0].hovers
    assert len(hovers) == 4 and hovers[0].x == 0 and sum(h.width for h in hovers) == pytest.approx(1000)
    assert hovers[1].tip == "14:01 UTC — Most at once: 5; Average: 4.2"


@pytest.mark.parametrize("series", [[], [Series("Viewers", [])], [Series("Viewers", minutes([None, None]))]])
def test_no_data_is_an_empty_chart_not_an_error(series):
    chart = charts.time_series("Viewers", series, marker=None)
    assert chart.empty and chart.empty_text == "No data yet" and chart.table.rows == []


def test_one_point_gets_a_range_around_it():
    chart = charts.time_series("Viewers", [Series("Viewers", [(t(14), 3)])])
    assert not chart.empty
    assert chart.plots[0].shapes[0].d == "M500,0h0.01"  # a dot in the middle, at the top tick (3)
    assert chart.description.startswith("14:00 UTC")


def test_joins_and_leaves_under_the_series_share_its_time_axis():
    flows = [(t(14, i), joins, leaves) for i, (joins, leaves) in enumerate([(4, 0), (1, 2), (0, 0), (2, 3)])]
    chart = charts.time_series("Viewers", [Series("Viewers", minutes([4, 3, 3, 2]))], flows=flows)
    main, below = chart.plots
    assert below.top > main.top + main.height
    zero = next(tick for tick in below.grid if tick.zero).at - below.top
    ups = [bar for bar in below.bars if "chart-up" in bar.css]
    downs = [bar for bar in below.bars if "chart-down" in bar.css]
    assert len(ups) == 3 and len(downs) == 2  # no bar for nought
    assert all(bar.y + bar.height == pytest.approx(zero) for bar in ups)
    assert all(bar.y == zero for bar in downs)
    # The tallest join reaches the top tick; heights are proportional.
    assert ups[0].height == pytest.approx(4 * ups[1].height)
    # Bars are centred on their minute: the domain is widened by half a minute each side.
    assert ups[0].x + ups[0].width / 2 == pytest.approx(1000 * 30 / 240, abs=0.01)
    assert main.shapes[0].d.startswith("M125,")
    assert downs[0].tip == "14:01 UTC — Leaves: 2"
    assert chart.table.headers == ("Time (UTC)", "Viewers", "Joins", "Leaves")
    assert chart.table.rows[1] == ("14:01", "3", "1", "2")
    assert "Joins 7, leaves 5" in chart.description
    # Leaves read as counts below the axis, not negative numbers.
    assert all(not tick.label.startswith(("-", "−")) for tick in below.grid)


def test_diverging_bars_alone():
    chart = charts.diverging_bars("Joins and leaves", [(t(14, 1), 1, 2), (t(14, 0), 4, 0)])
    assert chart.kind == "diverging"
    assert chart.table.rows == [("14:00", "4", "0"), ("14:01", "1", "2")]
    assert chart.description == "14:00–14:01 UTC; Joins 5, leaves 2; most joins at 14:00 (4)."
    assert charts.diverging_bars("Joins and leaves", [(t(14), 0, 0)]).empty


# --- retention -------------------------------------------------------------------------------


def test_retention_is_a_step_curve_on_a_percent_axis():
    chart = charts.retention_curve("Still watching", [(0, 100.0), (1, 80.0), (2, 80.0), (5, 45.0)])
    plot = chart.plots[0]
    assert [tick.label for tick in plot.grid] == ["0%", "25%", "50%", "75%", "100%"]
    assert plot.grid[-1].at == charts.TOP and plot.grid[0].at == charts.TOP + 180
    area, line = plot.shapes
    # Only horizontal and vertical moves: a value holds until the next point, and one step past the last.
    assert re.fullmatch(r"M[\d.]+,[\d.]+([HV][\d.]+)+", line.d)
    assert line.d == "M0,0H166.67V36H333.33H833.33V99H1000"
    assert area.d.startswith(line.d) and area.d.endswith("V180H0Z")
    assert [tick.label for tick in chart.x_ticks] == ["0", "2", "4", "6"]
    assert chart.x_label == "Minutes after joining"
    assert chart.table.rows == [("0 min", "100%"), ("1 min", "80%"), ("2 min", "80%"), ("5 min", "45%")]
    assert chart.description == "Half or more had left by 5 min; 45% still watching at 5 min."


def test_vod_retention_by_position_and_by_share_of_the_video():
    by_time = charts.retention_curve("Retention", [(0, 100), (60, 70), (600, 40), (1500, 12)], x_unit="seconds",
                                     y_label="Viewers")
    assert [tick.label for tick in by_time.x_ticks][:3] == ["0:00", "5:00", "10:00"]
    assert by_time.table.rows[1] == ("1:00", "70%")
    by_share = charts.retention_curve("Retention", [(0, 100), (50, 55), (99, 150)], x_unit="percent")
    assert [tick.label for tick in by_share.x_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert by_share.table.rows[-1] == ("99%", "100%")  # a percent above 100 is held at 100
    with pytest.raises(ValueError, match="x_unit"):
        charts.retention_curve("Retention", [(0, 100)], x_unit="hours")
    assert charts.retention_curve("Retention", [(0, None)]).empty


# --- histogram, breakdown, sparkline, tiles ----------------------------------------------------


def test_histogram_bars_are_proportional_and_labelled():
    chart = charts.histogram("Startup time", charts.ms_buckets({"250": 4, "500": 8, "1000": 2, "0": 1}),
                             value_header="Sessions")
    bars = chart.plots[0].bars
    assert [tick.label for tick in chart.plots[0].grid] == ["0", "5", "10"]
    assert [bar.height for bar in bars] == pytest.approx([64, 128, 32, 16])  # 160 px for 10
    assert all(bar.y + bar.height == 160 for bar in bars)
    categories = [(label.text, label.narrow) for label in chart.labels if label.css == "chart-category"]
    # On a phone the longer labels take two lines.
    assert categories == [("<250 ms", ("<250", "ms")), ("250–500 ms", ("250–500", "ms")),
                          ("0.5–1 s", ("0.5–1", "s")), ("≥1 s", None)]
    assert chart.table.rows[1] == ("250–500 ms", "8", "53.3%")
    assert chart.description == "15 in all; most in 250–500 ms (8, 53.3%)."
    assert charts.histogram("Startup time", [("<250 ms", 0)]).empty


def test_breakdown_sorts_shares_and_sums_the_rest():
    rows = [("example.com", 5), (None, 2), ("<script>alert(1)</script>", 9)] + [(f"site{i}.org", 1) for i in range(12)]
    table = charts.breakdown("Referrers", rows, label_header="Site", limit=5)
    labels = [row.label for row in table.rows]
    assert labels == ["<script>alert(1)</script>", "example.com", "Unknown", "site0.org", "Other"]
    assert table.rows[-1].value == 11
    assert sum(row.share for row in table.rows) == pytest.approx(100)
    # Bars are as long as their row's share of the longest row (here the other sites together).
    assert table.rows[-1].bar == 100 and table.rows[0].bar == pytest.approx(100 * 9 / 11, abs=0.01)
    assert table.rows[0].share_text == "32.1%"
    hours = charts.breakdown("Time per quality", [("720p", 1.25), ("1080p", 3.5)], unit="h")
    assert [row.value_text for row in hours.rows] == ["3.5 h", "1.2 h"]
    assert hours.total_text == "4.8 h"
    assert charts.breakdown("Devices", []).empty


def test_sparkline_gaps_and_last_point():
    spark = charts.sparkline([1, 2, None, 4])
    assert spark.line.count("M") == 2 and spark.last_x == 100.0 and spark.last_y == charts.SPARK_PAD
    assert charts.sparkline([]).empty and charts.sparkline([None]).empty
    flat = charts.sparkline([5, 5, 5], zero_based=False)
    assert not flat.empty and "nan" not in flat.line


@pytest.mark.parametrize(("current", "previous", "options", "expected"), [
    (20, 16, {}, ("up", True, "25%")),
    (12, 16, {}, ("down", False, "25%")),
    (16, 16, {}, ("flat", None, "±0%")),
    (3, 0, {}, ("up", True, "new")),
    (1.6, 1.2, {"higher_is_better": False, "change_in": "points"}, ("up", False, "0.4 pp")),
    (0.8, 1.2, {"higher_is_better": False, "change_in": "points"}, ("down", True, "0.4 pp")),
    (40, 20, {"higher_is_better": None}, ("up", None, "100%")),
])
def test_change_against_the_previous_period(current, previous, options, expected):
    found = charts.change(current, previous, **options)
    assert (found.direction, found.good, found.text) == expected
    assert charts.change(None, 3) is None and charts.change(3, None) is None


def test_kpi_formats_its_value():
    assert charts.kpi("Watch time", 1234.5, unit="h").value_text == "1,234 h"
    assert charts.kpi("Average viewers", 3.44).value_text == "3.4"
    assert charts.kpi("Startup p95", None).value_text == "—"
    tile = charts.kpi("Rebuffering", 0.8, text="0.8 %", trend=[1, 2], id="kpi-rebuffer")
    assert tile.value_text == "0.8 %" and tile.spark and tile.spark.id == "spark-kpi-rebuffer"


# --- rendered --------------------------------------------------------------------------------


def every_chart():
    most = minutes([1, 3, 5, None, 4, 4, 2, 3])
    return [
        charts.time_series("Concurrent viewers", [Series("Most at once", most, kind="area"),
                                                  Series("Average", minutes([0.5, 2, 4.5, None, 3.5, 3, 1.5, 2.5]))],
                           marker=(t(14, 2), 5, "Peak 5 viewers"), flows=[(t(14, i), i % 3, i % 2) for i in range(8)],
                           y_label="Viewers"),
        charts.diverging_bars("Joins and leaves", [(t(14, i), i % 3, i % 2) for i in range(8)]),
        charts.retention_curve("Still watching", [(0, 100), (1, 75), (4, 50), (9, 12.5)]),
        charts.histogram("Startup time", [("<250 ms", 4), ("250–500 ms", 9), ("≥500 ms", 2)]),
    ]


@pytest.mark.parametrize("index", range(4))
def test_each_chart_is_an_image_named_by_its_title_and_description_with_its_table(macros, index):
    chart = every_chart()[index]
    figure = parse(str(macros.chart(chart))).find("figure")
    svg = svg_of(figure)
    assert svg.get("role") == "img"
    title_id, desc_id = svg.get("aria-labelledby"), svg.get("aria-describedby")
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert (title.get("id"), title.text) == (title_id, chart.title)
    assert (desc.get("id"), desc.text) == (desc_id, chart.description)
    assert figure.find("figcaption/span").text == chart.title
    # The same numbers as a table, inside a <details> (open without JavaScript).
    details = figure.find("details")
    assert details.find("summary").text == "Data"
    assert [th.text for th in details.find(".//thead/tr")] == list(chart.table.headers)
    assert table_cells(details) == [list(row) for row in chart.table.rows]
    # Its plots stretch sideways only, and no colour is written inline.
    plots = [element for element in svg.iter(f"{SVG}svg") if element is not svg]
    assert plots and all(plot.get("preserveAspectRatio") == "none" for plot in plots)
    assert svg.get("viewBox") is None and svg.get("width") == "100%"
    html = str(macros.chart(chart))
    assert "style=" not in html and "fill=" not in html and "stroke=" not in html


def test_a_rendered_time_series_draws_its_parts(macros):
    figure = parse(str(macros.chart(every_chart()[0])))
    svg = svg_of(figure.find("figure"))
    texts = [element.text for element in svg.iter(f"{SVG}text")]
    assert "Peak 5 viewers" in texts and "14:00" in texts
    assert len(list(svg.iter(f"{SVG}circle"))) == 1
    keys = [key for key in figure.iter("span") if "chart-key" in (key.get("class") or "")]
    assert [key.tail for key in keys] == ["Most at once", "Average", "Joins", "Leaves"]
    assert all(key.get("aria-hidden") == "true" for key in keys)
    tips = [element.text for element in svg.iter(f"{SVG}title")][1:]
    assert "14:02 UTC — Most at once: 5; Average: 4.5; Joins: 2; Leaves: 0" in tips


def test_hostile_labels_are_escaped(macros):
    evil = '<script>alert("x")</script>'
    outputs = [
        macros.chart(charts.time_series(evil, [Series(evil, minutes([1, 2]))], marker=(t(14), 1, evil), y_label=evil)),
        macros.chart(charts.histogram(evil, [(evil, 3), ("fine", 1)])),
        macros.chart(charts.retention_curve(evil, [(0, 100), (1, 50)], x_label=evil, y_label=evil)),
        macros.breakdown_table(charts.breakdown(evil, [(evil, 3), ("fine", 1)], label_header=evil)),
        macros.kpi_tile(charts.kpi(evil, 3, sub=evil, trend=[1, 2])),
        macros.chart(charts.time_series(evil, [])),
    ]
    for output in outputs:
        html = str(output)
        assert "<script>" not in html and "&lt;script&gt;" in html
        parse(html)  # still well-formed: nothing broke out of an attribute or an element


def test_empty_charts_say_so(macros):
    html = str(macros.chart(charts.time_series("Viewers", [], empty_text="No viewers yet")))
    figure = parse(html).find("figure")
    assert figure.find("p").text == "No viewers yet"
    assert figure.find(".//svg") is None and figure.find(".//table") is None
    assert "No data yet" in str(macros.breakdown_table(charts.breakdown("Devices", [])))
    assert str(macros.sparkline(charts.sparkline([]))).strip() == ""


def test_breakdown_table_has_every_row_and_its_bar(macros):
    table = charts.breakdown("Devices", [("Phone", 30), ("Desktop", 12), ("TV", 3)], label_header="Device",
                             value_header="Sessions")
    figure = parse(str(macros.breakdown_table(table))).find("figure")
    rows = list(figure.find(".//tbody"))
    assert [row.find("th/span").text for row in rows] == ["Phone", "Desktop", "TV"]
    assert [[cell.text for cell in row.findall("td")] for row in rows] == [
        ["30", "66.7%"], ["12", "26.7%"], ["3", "6.7%"]]
    assert [row.find(f"th/{SVG}svg/{SVG}rect").get("width") for row in rows] == ["100.0", "40.0", "10.0"]
    assert all(row.find(f"th/{SVG}svg").get("aria-hidden") == "true" for row in rows)
    assert [th.text for th in figure.find(".//thead/tr")] == ["Device", "Sessions", "Share"]


def test_kpi_tiles(macros):
    tiles = [charts.kpi("Peak viewers", 20, previous=16, sub="at 14:02", trend=[3, 8, 20, 12]),
             charts.kpi("Rebuffering", 1.6, text="1.6 %", previous=1.2, higher_is_better=False, change_in="points")]
    strip = parse(str(macros.kpi_tiles(tiles, label="This broadcast"))).find("div")
    assert strip.get("class") == "kpis" and strip.get("aria-label") == "This broadcast"
    first, second = strip.findall("div")
    texts = [p.text for p in first.findall("p")]
    assert texts[:2] == ["Peak viewers", "20"] and texts[-1] == "at 14:02"
    change = first.find("p[@class='kpi-change kpi-up is-good']")
    assert [span.text for span in change] == ["▲ 25%", "Up 25% on the previous period"]
    spark = first.find(f"{SVG}svg")
    assert spark.get("role") == "img" and spark.find(f"{SVG}title").text == "Peak viewers: trend"
    assert second.find("p[@class='kpi-change kpi-up is-bad']") is not None
    assert second.find(f"{SVG}svg") is None


def test_csv_link(macros):
    html = str(macros.chart(every_chart()[2], csv_url="/analytics/retention.csv?a=1&b=2"))
    assert '<a class="chart-csv" href="/analytics/retention.csv?a=1&amp;b=2" download>CSV</a>' in html
