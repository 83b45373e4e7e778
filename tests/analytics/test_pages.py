"""The creator's analytics pages and export: the owner's only, server-rendered (every chart an
<svg role="img"> with a title, a description and the same numbers as a table), CSV that sums to
the totals, clear errors for bad ranges."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from app.analytics import rollups
from app.extensions import db, get_redis
from tests.analytics.test_rollups import watch
from tests.factories import make_live, make_user


@pytest.fixture
def broadcast(app, client):
    """alice broadcast for a while, watched by two viewers, and ended: summarised."""
    alice = make_user("alice")
    make_user("bob")
    session = make_live(alice)
    session.started_at = datetime.now(UTC) - timedelta(minutes=10)
    session.title = "Speedrun <night>"
    db.session.commit()
    watch(client, session, "viewer-page-0001", 4, referrer="forum.example.net")
    watch(client, session, "viewer-page-0002", 2, address="203.0.113.5")
    rollups.write_dirty(get_redis(), now=datetime.now(UTC).timestamp() + 60)
    session.ended_at = datetime.now(UTC) - timedelta(minutes=1)
    alice.channel.is_live = False
    db.session.commit()
    assert rollups.summarize_due() == [session.id]
    return session


def charts_are_accessible(html: str) -> int:
    """Every chart is an <svg role="img"> named by its <title> and described by its <desc>, and
    every chart figure carries the same numbers as a table; returns how many charts."""
    svgs = re.findall(r'<svg class="(?:chart-svg|sparkline)"[^>]*role="img" aria-labelledby="([^"]+)"[^>]*>\s*'
                      r'<title id="([^"]+)">[^<]+</title>\s*<desc id="([^"]+)">[^<]+</desc>', html)
    assert len(svgs) == html.count('role="img"')
    for labelled_by, title, desc in svgs:
        assert title in labelled_by.split() and set(labelled_by.split()) <= {title, desc}
    figures = re.findall(r'<figure class="chart (?:(?!</figure>).)*</figure>', html, re.S)
    drawn = [f for f in figures if 'class="chart-svg"' in f]
    assert drawn and all("<table" in f for f in drawn)
    return len(drawn)


def test_the_owner_sees_the_channel_and_the_broadcast(login, broadcast):
    alice = login("alice")
    page = alice.get("/dashboard/analytics?days=7")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Watch time" in html and "Speedrun &lt;night&gt;" in html and "<night>" not in html
    assert charts_are_accessible(html) >= 2 and "<table" in html
    summary = alice.get(f"/dashboard/analytics/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert "Peak viewers" in summary and "Still watching" in summary and "forum.example.net" in summary
    assert "Quality per rendition" in summary and "720p" in summary
    assert charts_are_accessible(summary) >= 3
    assert "<script" not in summary.split("<main", 1)[1].split("</main>", 1)[0]  # nothing needs JavaScript


def test_nobody_else_sees_them(login, client, broadcast):
    bob = login("bob")
    assert bob.get(f"/dashboard/analytics/broadcasts/{broadcast.id}").status_code == 404
    assert bob.get("/api/v1/channels/alice/analytics").status_code == 403
    assert client.get("/api/v1/channels/alice/analytics").status_code == 401
    assert client.get("/dashboard/analytics").status_code in (302, 303)


def test_the_export_sums_to_the_totals(login, broadcast):
    alice = login("alice")
    found = alice.get("/api/v1/channels/alice/analytics?days=7").get_json()
    assert found["totals"]["watch_s"] == pytest.approx(60.0) and found["totals"]["views"] == 2
    rows = list(csv.DictReader(io.StringIO(alice.get("/api/v1/channels/alice/analytics?days=7&format=csv")
                                           .get_data(as_text=True))))
    assert sum(float(row["play_s"]) for row in rows) == pytest.approx(found["totals"]["live_watch_s"])
    minutes = alice.get(f"/api/v1/channels/alice/analytics?broadcast={broadcast.id}").get_json()
    assert minutes["summary"]["peak"] == 2 and minutes["summary"]["uniques"] == 2
    assert sum(m["play_s"] for m in minutes["minutes"]) == pytest.approx(minutes["summary"]["watch_s"], abs=0.2)
    answer = alice.get(f"/api/v1/channels/alice/analytics?broadcast={broadcast.id}&format=csv")
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]


@pytest.mark.parametrize("query, message", [
    ("days=3", "days must be one of"), ("from=2026-13-01&to=2026-12-01", "dates"),
    ("from=2026-12-05&to=2026-12-01", "on or before"), ("from=2020-01-01&to=2026-12-01", "at most"),
    ("format=xml", "json or csv")])
def test_bad_ranges_get_a_clear_error(login, broadcast, query, message):
    alice = login("alice")
    answer = alice.get(f"/api/v1/channels/alice/analytics?{query}")
    assert answer.status_code == 400 and message in answer.get_json()["message"]
    if "format" not in query:
        page = alice.get(f"/dashboard/analytics?{query}")
        assert page.status_code == 400 and message in page.get_data(as_text=True)


def test_the_live_tile_is_a_fragment_for_htmx_and_a_page_without_it(login, client, app):
    alice = make_user("alice")
    session = make_live(alice)
    watch(client, session, "viewer-live-0001", 2)
    rollups.write_dirty(get_redis())
    owner = login("alice")
    fragment = owner.get("/dashboard/analytics/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<section") and 'hx-trigger="every 10s"' in fragment
    assert "Watching now" in fragment and "<html" not in fragment
    page = owner.get("/dashboard/analytics/live").get_data(as_text=True)
    assert "<html" in page and "Watching now" in page
    assert 'id="analytics-live"' in owner.get("/dashboard/analytics").get_data(as_text=True)
