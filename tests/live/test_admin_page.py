"""/admin/live: admins only; the page includes the fragment htmx refreshes every 5 s."""
from __future__ import annotations

import re

import pytest

from tests.conftest import Actions, page_text
from tests.factories import PASSWORD, make_user

HX = {"HX-Request": "true"}


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
@pytest.mark.parametrize("who, status", [(None, 302), ("viewer", 403), ("boss", 200)])
def test_only_admins_see_it(app, client, actions, who, status, headers):
    make_user("viewer")
    make_user("boss", admin=True)
    if who:
        actions.login(who, PASSWORD)
    response = client.get("/admin/live", headers=headers)
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]
    if status == 403:
        assert "Only site admins can see the live hosts." in page_text(response)


@pytest.fixture
def boss(actions):
    make_user("boss", admin=True)
    actions.login("boss", PASSWORD)


def rows(html: str) -> list[list[str]]:
    """Each table row's cells as text."""
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)]


def test_page_lists_hosts_and_open_sessions(client, boss, live_state):
    response = client.get("/admin/live")
    html = page_text(response)
    assert response.status_code == 200 and "<html" in html and "HX-Request" in response.headers["Vary"]
    assert html.count('id="live-runtime"') == 1
    found = rows(html)
    box_a = next(row for row in found if row[0] == "box-a")
    assert box_a[:7] == ["box-a", "6.80", "1.25", "0.93", "2/3", "nvenc", "1"] and box_a[7].endswith("s ago")
    placed, waiting, away = live_state["placed"], live_state["waiting"], live_state["away"]
    assert [str(placed.id), "placed", "live", "ladder", "720p, 480p, 360p", "box-a", "yes"] in found
    assert [str(waiting.id), "waiting", "live", "waiting for a host", "—", "—", "no"] in found
    assert [str(away.id), "away", "reconnecting", "passthrough", "source", "box-a", "no"] in found
    assert "over" not in [row[1] for row in found if len(row) > 1]


def test_fragment_is_the_self_refreshing_section(client, boss, live_state):
    response = client.get("/admin/live", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.strip().startswith('<section id="live-runtime"') and html.strip().endswith("</section>")
    assert 'hx-get="/admin/live"' in html and 'hx-trigger="every 5s"' in html and 'hx-swap="outerHTML"' in html
    assert "box-a" in html and "box-b" in html


def test_boosted_and_history_restore_get_the_page(client, boss):
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        assert "<html" in client.get("/admin/live", headers={**HX, **extra}).get_data(as_text=True)


def test_empty_runtime(client, boss):
    text = page_text(client.get("/admin/live", headers=HX))
    assert "No live host is running" in text and "Nobody is live." in text


def test_redis_down_still_shows_sessions(make_app, live_state):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    client = down.test_client()
    with down.app_context():
        make_user("chief", admin=True)
    Actions(client).login("chief", PASSWORD)
    response = client.get("/admin/live", headers=HX)
    text = page_text(response)
    assert response.status_code == 200 and "cannot reach Redis" in text and "placed" in text


def test_menu_links_admins_only(client, actions):
    make_user("viewer")
    make_user("boss", admin=True)
    actions.login("viewer", PASSWORD)
    assert "/admin/live" not in client.get("/").get_data(as_text=True)
    actions.logout()
    actions.login("boss", PASSWORD)
    assert 'href="/admin/live"' in client.get("/").get_data(as_text=True)
