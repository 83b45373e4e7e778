"""The analytics charts in Chromium: a page with every chart, at 390 and 1280 px, light and dark,
under the site's CSP. Their labels stay legible (real-size text that doesn't collide), the page
doesn't scroll sideways on a phone, each chart is an image with a name, and its table opens
without JavaScript. Screenshots: tests/artifacts/screenshots/analytics-charts-*.png."""
import math
from datetime import datetime, timedelta

import pytest
from flask import render_template_string

from app.analytics import charts
from app.analytics.charts import Series
from app.security import CONTENT_SECURITY_POLICY
from tests.browser.conftest import open_page

pytestmark = pytest.mark.browser



DEMO = """<!doctype html>
<html lang="en" data-theme="auto">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>Charts</title>
  <link rel="stylesheet" href="{{ url_for('static', filename='css/site.css') }}">
  <link rel="stylesheet" href="{{ url_for('static', filename='css/analytics.css') }}">
</head>
<body>
{% from "analytics/_charts.html" import chart, breakdown_table, kpi_tiles, sparkline %}
<main class="container">
  <h1>Analytics</h1>
  <section class="panel">
    <h2>Your stream</h2>
    {{ kpi_tiles(tiles, label="This broadcast") }}
    {{ chart(ccu, csv_url="/analytics.csv") }}
    {{ chart(churn) }}
    <div class="analytics-pair">
      {{ chart(stay) }}
      {{ chart(vod) }}
    </div>
  </section>
  <section class="panel">
    <h2>Playback quality</h2>
    <div class="analytics-pair">
      {{ chart(startup) }}
      {{ chart(empty) }}
    </div>
    {{ breakdown_table(renditions) }}
  </section>
  <section class="panel">
    <h2>Viewers</h2>
    <div class="analytics-pair">
      {{ breakdown_table(devices) }}
      {{ breakdown_table(referrers) }}
    </div>
    <div class="demo-spark">{{ sparkline(spark) }}</div>
  </section>
</main>
</body>
</html>"""


def demo_charts() -> dict:
    """A two-hour broadcast's worth of charts, with a gap in its data and hostile labels."""
    start = datetime(2026, 12, 7, 20, 0)
    most, mean, flows = [], [], []
    for minute in range(121):
        at = start + timedelta(minutes=minute)
        level = 18 * (1 - math.exp(-minute / 15)) * (1 - max(0, minute - 90) / 40) + 2 * math.sin(minute / 5)
        value = None if 47 <= minute <= 50 else max(0, round(level))
        most.append((at, value))
        mean.append((at, None if value is None else round(max(0, level - 1.3), 1)))
        flows.append((at, (minute * 7) % 4 if minute < 95 else minute % 2, (minute * 5) % 3 if minute > 20 else 0))
    peak_at, peak = max(((t, v) for t, v in most if v is not None), key=lambda p: p[1])
    return {
        "tiles": [
            charts.kpi("Watching now", 12, sub="of 14 connected", trend=[v for _, v in most[-30:]]),
            charts.kpi("Peak viewers", peak, previous=15, sub=f"at {peak_at:%H:%M} UTC"),
            charts.kpi("Average viewers", 11.43, previous=12.1),
            charts.kpi("Watch time", 23.6, unit="h", previous=18),
            charts.kpi("Rebuffering", 1.4, text="1.4%", previous=0.9, higher_is_better=False, change_in="points"),
            charts.kpi("Startup p95", 1830, text="1.83 s", previous=1830, higher_is_better=False),
        ],
        "ccu": charts.time_series("Concurrent viewers",
                                  [Series("Most at once", most, kind="area"), Series("Average", mean)],
                                  marker=(peak_at, peak, f"Peak {peak}"), flows=flows, y_label="Viewers per minute"),
        "churn": charts.diverging_bars("Joins and leaves", flows),
        "stay": charts.retention_curve("Still watching", [(m, 100 * math.exp(-m / 28)) for m in range(0, 96, 3)]),
        "vod": charts.retention_curve("Recording: audience retention",
                                      [(s, 100 - 55 * s / 2700 - (18 if s > 300 else 0)) for s in range(0, 2701, 30)],
                                      x_unit="seconds", y_label="Viewers"),
        "startup": charts.histogram("Startup time", charts.ms_buckets(
            {"250": 6, "500": 31, "1000": 22, "2000": 9, "4000": 3, "0": 1}), value_header="Starts"),
        "empty": charts.time_series("Latency to the live edge", [], empty_text="No latency reports yet"),
        "renditions": charts.breakdown("Time per quality", [("1080p", 11.2), ("720p", 8.4), ("480p", 3.1),
                                                            ("360p", 0.9)], unit="h", label_header="Quality",
                                       value_header="Watched"),
        "devices": charts.breakdown("Devices", [("Phone", 31), ("Desktop", 22), ("Tablet", 4), ("TV", 1)],
                                    label_header="Device", value_header="Sessions"),
        "referrers": charts.breakdown("Referrers", [("Direct", 19), ("<script>alert(1)</script>", 7),
                                                    ("a-very-long-subdomain.of-an-aggregator-site.example.com", 5),
                                                    ("mastodon.social", 3), (None, 2)],
                                      label_header="Site", value_header="Sessions"),
        "spark": charts.sparkline([3, 5, 4, 8, None, 9, 12, 11], title="Followers"),
    }


# The labels in an element that are showing, as boxes: [left, right, height].
VISIBLE_LABELS = """(row, selector) => [...row.querySelectorAll(selector)]
  .filter((label) => getComputedStyle(label).display !== 'none')
  .map((label) => { const box = label.getBoundingClientRect(); return [box.left, box.right, box.height]; })"""


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_chart_reads_well_on_phones_and_desktops(browser, live_server, screenshot_dir, width, scheme):
    base_url, app = live_server
    with app.test_request_context():
        html = render_template_string(DEMO, **demo_charts())
    context, page, problems = open_page(browser, base_url, width, scheme)
    policy = CONTENT_SECURITY_POLICY.format(connect="'self'")
    page.route("**/analytics-demo", lambda route: route.fulfill(
        status=200, body=html, headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": policy}))
    try:
        page.goto("/analytics-demo")
        page.wait_for_load_state()
        # Each chart is an image named by its title, and says what it shows.
        for name in ["Concurrent viewers", "Joins and leaves", "Still watching", "Recording: audience retention",
                     "Startup time", "Watching now: trend", "Followers"]:
            image = page.get_by_role("img", name=name, exact=True)
            assert image.count() == 1, name
            assert image.get_attribute("aria-describedby")
        assert page.get_by_text("No latency reports yet").is_visible()
        assert page.get_by_role("rowheader", name="<script>alert(1)</script>").is_visible()
        # Nothing wider than a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # Time and bucket labels don't run into each other, and the text is real size (11-12 px) at any
        # width (a bucket's label may take two lines on a phone).
        rows = [(row, "text", 1) for row in page.locator(".chart-x").all()]
        rows += [(svg, "text.chart-category", 2) for svg in page.locator(".chart-histogram svg.chart-svg").all()]
        for row, selector, lines in rows:
            boxes = row.evaluate(VISIBLE_LABELS, selector)
            assert len(boxes) >= 3
            gaps = [left - right_before for (_, right_before, _), (left, _, _) in zip(boxes, boxes[1:])]
            assert min(gaps) >= -0.5, boxes
            assert all(11 <= height <= 18 * lines for _, _, height in boxes), boxes
        # Every chart sits inside the page.
        for svg in page.locator(".chart-svg").all():
            box = svg.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
        # The numbers behind a chart open without JavaScript.
        ccu = page.locator("#chart-concurrent-viewers")
        table = ccu.locator("table")
        assert not table.is_visible()
        shoot(page, screenshot_dir / f"analytics-charts-{width}-{scheme}.png")
        ccu.locator("summary").click()
        assert table.is_visible()
        assert table.locator("tbody tr").count() == 121
        # An open table scrolls inside its chart, never the page sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        csv = ccu.get_by_role("link", name="CSV").bounding_box()
        chart_box = ccu.bounding_box()
        assert csv["x"] + csv["width"] <= chart_box["x"] + chart_box["width"] + 0.5, (csv, chart_box)
        ccu.scroll_into_view_if_needed()
        ccu.screenshot(path=screenshot_dir / f"analytics-charts-{width}-{scheme}-table.png")
        assert not problems, problems
    finally:
        context.close()


def shoot(page, path):
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True, caret="initial")
