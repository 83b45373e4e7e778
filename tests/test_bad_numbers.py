"""Numbers out of any id's range, in a path or a query string, answer 4xx, never 500."""
import re

import pytest
from werkzeug.exceptions import NotFound

from tests.factories import make_user

# Out-of-range ids fail differently: PostgreSQL refuses the bind, SQLite's driver overflows.
pytestmark = pytest.mark.both_databases

# Past a 32-bit INTEGER column (PostgreSQL refuses the bind), past SQLite's 64-bit INTEGER
# (the driver raises OverflowError), and the issue's own example.
HUGE = [2**31, 2**63, 10**23]

# Every route with an <int:...> segment; {n} is where the number goes.
INT_ROUTES = [
    ("POST", "/admin/chat/terms/{n}/remove"),
    ("POST", "/c/alice/chat/settings/terms/{n}/remove"),
    ("POST", "/c/alice/chat/settings/moderators/{n}/remove"),
    ("POST", "/c/alice/chat/settings/restrictions/{n}/lift"),
    ("POST", "/c/alice/chat/messages/{n}/delete"),
    ("POST", "/c/alice/chat/users/{n}/timeout"),
    ("POST", "/c/alice/chat/users/{n}/ban"),
    ("POST", "/c/alice/chat/users/{n}/unban"),
    ("POST", "/c/alice/chat/held/{n}/approve"),
    ("POST", "/c/alice/chat/actions/{n}/undo"),
    ("GET", "/c/alice/chat/users/{n}/card"),
    ("GET", "/vods/{n}/index.m3u8"),
    ("GET", "/dashboard/videos/{n}"),
    ("GET", "/dashboard/analytics/broadcasts/{n}"),
    ("GET", "/dashboard/analytics/vods/{n}"),
    ("POST", "/api/v1/vods/{n}/watch"),
    ("POST", "/dashboard/videos/{n}/visibility"),
    ("GET", "/dashboard/videos/{n}/rename"),
    ("GET", "/dashboard/videos/{n}/delete"),
    ("GET", "/c/alice/videos/{n}"),
    ("GET", "/c/alice/videos/{n}/chat"),
    ("GET", "/c/alice/videos/{n}/download"),
    ("POST", "/chat/mutes/{n}"),
    ("DELETE", "/chat/mutes/{n}"),
    ("POST", "/settings/profile/top8/{n}/up"),
    ("GET", "/settings/donations/{n}"),
    ("POST", "/settings/donations/{n}/remove"),
    ("POST", "/settings/donations/{n}/move"),
    ("GET", "/legal/terms/versions/{n}"),
    ("GET", "/report/message/{n}"),
    ("GET", "/reports/{n}"),
    ("GET", "/notices/{n}"),
    ("GET", "/notices/{n}/token"),
    ("GET", "/moderation/reports/{n}"),
    ("POST", "/moderation/reports/{n}/claim"),
    ("POST", "/moderation/reports/{n}/escalate"),
    ("POST", "/moderation/reports/{n}/note"),
    ("POST", "/moderation/reports/{n}/reply/{n}"),
    ("POST", "/moderation/reports/{n}/action"),
    ("POST", "/moderation/reports/{n}/dismiss"),
    ("POST", "/moderation/appeals/{n}"),
    ("POST", "/admin/people/alice/lift/{n}"),
    ("GET", "/dmca/notices/{n}/counter"),
    ("GET", "/dmca/notices/{n}/counter/token"),
    ("GET", "/dmca/notices/{n}/claimant/token"),
    ("GET", "/dashboard/videos/{n}/content"),
    ("GET", "/settings/privacy/exports/{n}/token"),
]


@pytest.fixture
def alice_client(app, login):
    """Alice, an admin who owns channel alice, logged in; requests carry her CSRF token."""
    make_user("alice", admin=True)
    client = login("alice")
    home = client.get("/").get_data(as_text=True)
    token = re.search(r"X-CSRFToken&#34;: &#34;([^&]+)&#34;", home).group(1)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


def test_every_int_route_is_listed(app):
    """A new <int:...> route must join INT_ROUTES, so the test below covers it."""
    int_rules = {re.sub(r"<[^>]+>", "*", rule.rule) for rule in app.url_map.iter_rules()
                 if "<int:" in rule.rule}
    named = r"/(alice|\{n\}|index\.m3u8|approve|up|message|token)(?=/|$)|(?<=^/legal)/terms(?=/)"
    listed = {re.sub(named, "/*", path) for _, path in INT_ROUTES}
    assert int_rules == listed, sorted(int_rules ^ listed)


@pytest.mark.parametrize("method, path", INT_ROUTES)
def test_ids_no_row_can_have_are_not_found(alice_client, method, path):
    # Every number in one test: the sign-in the fixture does is most of each one's time.
    for number in HUGE:
        response = alice_client.open(path.format(n=number), method=method)
        assert response.status_code == 404, (number, response.get_data(as_text=True)[:500])


def test_the_bound_is_the_id_columns_and_no_lower(app):
    """2**31 - 1, the largest INTEGER, still routes to the view; one more matches nothing."""
    urls = app.url_map.bind("localhost")
    assert urls.match(f"/c/alice/videos/{2**31 - 1}") == ("vods.watch", {"slug": "alice", "vod_id": 2**31 - 1})
    with pytest.raises(NotFound):
        urls.match(f"/c/alice/videos/{2**31}")


@pytest.mark.parametrize("page", ["99999999999999999999999", "-5", "0", "abc"])
def test_channel_video_pages_survive_any_page_number(alice_client, page):
    assert alice_client.get(f"/c/alice/videos?page={page}").status_code == 200


@pytest.mark.parametrize("before", ["99999999999999999999999", str(2**31), str(2**63), "-1", "abc"])
def test_moderation_log_survives_any_before(alice_client, before):
    """Anything but an id some row can have shows the newest page, as no `before` does."""
    assert alice_client.get(f"/c/alice/modlog?before={before}").status_code == 200


# Every number a route reads from a query string; {n} is where it goes.
QUERY_NUMBERS = [
    "/c/alice/videos?page={n}",
    "/c/alice/modlog?before={n}",
    "/admin/audit?before={n}",
    "/api/v1/channels/alice/analytics?broadcast={n}",
    "/api/v1/channels/alice/analytics?days={n}",
    "/dashboard/analytics?days={n}",
]


@pytest.mark.parametrize("number", [*HUGE, -1, "abc"])
@pytest.mark.parametrize("path", QUERY_NUMBERS)
def test_numbers_in_query_strings_never_500(alice_client, path, number):
    assert alice_client.get(path.format(n=number)).status_code < 500


def test_every_query_string_number_is_listed():
    """A route that reads a number with `type=...` from its query string is in QUERY_NUMBERS."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "app"
    readers = {(path.relative_to(root).as_posix(), name)
               for path in root.rglob("*.py")
               for name in re.findall(r"args\.get\(\s*\"(\w+)\"[^)]*type=", path.read_text())}
    listed = {name for url in QUERY_NUMBERS for name in re.findall(r"[?&](\w+)=\{n\}", url)}
    assert {name for _, name in readers} <= listed, readers


@pytest.mark.parametrize("dates", ["from=9999-12-31&to=9999-12-31", "from=0001-01-01&to=0001-01-01",
                                   "from=1999-12-31&to=2000-01-05"])
def test_analytics_dates_outside_the_calendar_are_refused(alice_client, dates):
    """Days before 2000 or after tomorrow have no data and would overflow the period compared against."""
    assert alice_client.get(f"/dashboard/analytics?{dates}").status_code == 400
    answer = alice_client.get(f"/api/v1/channels/alice/analytics?{dates}")
    assert answer.status_code == 400 and "2000-01-01" in answer.get_json()["message"]
