"""Search: ranking on both databases, typo tolerance, hostile input, the page and its fragments."""
import pytest

from app.directory import search as searching
from app.extensions import db
from tests.conftest import page_text
from tests.directory.conftest import make_streamer
from tests.factories import make_category, make_user

# Search is FTS5 on SQLite and full text with pg_trgm on PostgreSQL (app/directory/search.py).
pytestmark = pytest.mark.both_databases


def slugs(results):
    return [c.slug for c in results.channels]


def test_exact_beats_prefix_beats_typo(app):
    make_streamer("speedrunnerx", title="Weekend marathon")       # prefix of the slug
    make_streamer("speedrun", title="Chill evening")             # exact
    make_streamer("spedrun", title="Practice")                    # one letter short: a typo
    make_streamer("pottery", title="Wheel throwing")              # unrelated
    assert slugs(searching.search("speedrun")) == ["speedrun", "speedrunnerx", "spedrun"]


def test_typo_tolerance_finds_near_misses(app):
    make_streamer("nightowl", title="Late-night synth jams")
    make_category("Speedrunning")
    assert slugs(searching.search("nigthowl")) == ["nightowl"]
    assert [c.name for c in searching.search("speedruning").categories] == ["Speedrunning"]
    assert slugs(searching.search("pottery")) == []  # too far off: nothing rather than noise


def test_prefix_of_a_title_word_and_tags(app):
    make_streamer("chefkai", title="Sunday ramen from scratch", tags=["food"])
    assert slugs(searching.search("ram")) == ["chefkai"]
    assert slugs(searching.search("sunday ram")) == ["chefkai"]
    assert slugs(searching.search("food")) == ["chefkai"]


def test_short_queries_match_prefixes(app):
    make_streamer("devdan", title="Building a roguelike")
    make_streamer("adam", title="Other")
    assert slugs(searching.search("de")) == ["devdan"]


def test_live_channels_rank_above_offline_at_equal_relevance(app):
    make_streamer("pixelart", title="offline")
    make_streamer("pixelartist", title="offline too")
    make_streamer("pixelarts", title="on air", live=True)
    assert slugs(searching.search("pixelar")) == ["pixelarts", "pixelart", "pixelartist"]
    # ...but an exact match still wins over a live prefix match.
    assert slugs(searching.search("pixelart"))[0] == "pixelart"


def test_disabled_users_are_hidden(app):
    make_streamer("ghosted", title="Ghost stories", live=True, disabled=True)
    make_streamer("ghostwriter", title="Writing")
    results = searching.search("ghost")
    assert slugs(results) == ["ghostwriter"]
    assert [u.username for u in results.users] == ["ghostwriter"]


def test_people_by_display_name_and_renames_are_indexed(app):
    user = make_user("ppx")
    user.profile.display_name = "Paula Pixel"
    db.session.commit()
    assert [u.username for u in searching.search("paula").users] == ["ppx"]
    user.username = "paulapixel"
    db.session.commit()
    assert [u.username for u in searching.search("paulapix").users] == ["paulapixel"]
    db.session.delete(user)
    db.session.commit()
    assert not searching.search("paula")


def test_categories_by_name(app):
    make_category("Retro Games")
    make_category("Music")
    assert [c.name for c in searching.search("retro").categories] == ["Retro Games"]
    assert [c.name for c in searching.search("gam").categories] == ["Retro Games"]


@pytest.mark.parametrize("q", [
    '"', "'", '"unbalanced', "a AND OR NOT", "NEAR(a b)", "title:x", "^x", "*", "x*", "(", ")",
    "%", "_", "%_%", "\\", "'; DROP TABLE users; --", "a:* & !b | c", "\x00", "é😀",
    "x" * 5000, " ".join(["word"] * 400),
], ids=lambda q: q if len(q) < 40 else f"{q[:8]}...{len(q)}-chars")
def test_hostile_queries_return_normally(app, client, q):
    make_streamer("alice", title="100% real_stuff")
    searching.search(q)  # no exception
    assert client.get("/search", query_string={"q": q}).status_code == 200
    assert client.get("/search", query_string={"q": q}, headers={"HX-Request": "true"}).status_code == 200


def test_percent_and_underscore_are_literal(app):
    make_streamer("alice", title="100% real_stuff")
    make_streamer("bob", title="1000 realistic")
    assert slugs(searching.search("100%"))[0] == "alice"
    assert slugs(searching.search("real_"))[0] == "alice"
    assert slugs(searching.search("%")) == slugs(searching.search("%%")) == []
    assert "bob" not in slugs(searching.search("_")) + slugs(searching.search("%_"))  # no wildcards


def test_search_page_fragment_and_suggestions(app, client):
    make_streamer("nightowl", title="Late-night synth jams", live=True)
    page = page_text(client.get("/search?q=night"))
    assert "<html" in page and "Late-night synth jams" in page and "badge-live" in page

    fragment = client.get("/search?q=night", headers={"HX-Request": "true"})
    assert "HX-Request" in fragment.headers["Vary"]
    assert page_text(fragment).lstrip().startswith('<div id="search-results"')

    suggest = client.get("/search?q=night", headers={"HX-Request": "true", "HX-Target": "search-suggest"})
    body = page_text(suggest)
    assert body.lstrip().startswith('<div id="search-suggest"')
    assert "/c/nightowl" in body and "See all results" in body
    assert page_text(client.get("/search?q=", headers={"HX-Request": "true", "HX-Target": "search-suggest"})).strip() \
        == '<div id="search-suggest" class="search-suggest">\n  \n</div>'


def test_nav_search_works_without_javascript(client):
    html = page_text(client.get("/"))
    assert 'action="/search" method="get" role="search"' in html
    assert 'hx-trigger="input changed delay:250ms, search"' in html


def test_empty_results(client):
    assert "No results for “zzzzqqq”" in page_text(client.get("/search?q=zzzzqqq"))
