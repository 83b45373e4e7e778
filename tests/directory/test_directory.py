"""The directory, category pages and the home page."""
import re
from datetime import timedelta

import pytest

from app.directory import services
from app.extensions import db
from app.models import Follow, utcnow
from app.streams import viewers
from tests.conftest import page_text
from tests.directory.conftest import make_streamer
from tests.factories import make_category, make_live, make_user


def card_slugs(html: str) -> list[str]:
    return re.findall(r'class="channel-card" href="/c/([^"]+)"', html)


def live_section(html: str) -> str:
    start = html.index('id="live-heading"')
    ends = [at for at in (html.find('id="recent-heading"'), html.find('id="channels-heading"')) if at > 0]
    return html[start:min(ends, default=len(html))]


def section_after(html: str, heading_id: str) -> str:
    return html[html.index(f'id="{heading_id}"'):]


def test_live_channels_are_ordered_by_viewers(client):
    make_streamer("quiet", title="Quiet", live=True, watching=1)
    make_streamer("busy", title="Busy", live=True, watching=3)
    make_streamer("empty", title="Empty", live=True)
    make_streamer("hidden", title="Hidden", live=True, watching=9, disabled=True)
    html = page_text(client.get("/directory"))
    assert card_slugs(live_section(html)) == ["busy", "quiet", "empty"]
    assert "3 viewers" in html and "1 viewer<" in html


def test_recently_live_below_and_empty_state(client):
    gone = make_streamer("gone", title="Yesterday's stream")
    gone.channel.last_live_at = utcnow()
    db.session.commit()
    html = page_text(client.get("/directory"))
    assert "No one is live right now" in html
    assert "Recently live" in html and "/c/gone" in html


def test_tag_filter(client):
    make_streamer("synth", live=True, tags=["Synthwave", "chill"])
    make_streamer("ramen", live=True, tags=["food"])
    html = page_text(client.get("/directory?tag=synthwave"))
    assert card_slugs(live_section(html)) == ["synth"]
    assert 'aria-current="true">#synthwave' in html
    assert "No one is live with #jazz" in page_text(client.get("/directory?tag=jazz"))


def test_category_page_filters_and_shows_a_cover(client):
    music = make_category("Music")
    art = make_category("Art")
    art.cover_key = "covers/art.jpg"
    db.session.commit()
    make_streamer("nightowl", live=True, category=music, watching=2)
    make_streamer("pixel", live=True, category=art)
    html = page_text(client.get("/directory/category/music"))
    assert card_slugs(live_section(html)) == ["nightowl"]
    assert "<h1>Music</h1>" in html and "1 channel live" in html
    assert re.search(r'class="cover cover-header cover-g\d"', html) and 'class="cover-name"' in html
    art_html = page_text(client.get("/directory/category/art"))
    assert 'class="cover-img" src="' in art_html and "covers/art.jpg" in art_html
    assert "No one is streaming Art right now" not in art_html
    assert client.get("/directory/category/nope").status_code == 404


def test_generated_cover_is_stable_per_slug(app):
    music = make_category("Music")
    assert services.cover_style(music) == services.cover_style(music) in range(services.COVER_STYLES)


@pytest.mark.parametrize("path", ["/directory", "/directory/category/music"])
def test_infinite_scroll_pages_without_duplicates_or_gaps(app, client, monkeypatch, path):
    music = make_category("Music")
    streamers = [make_streamer(f"str{n}", live=True, watching=n % 4, category=music) for n in range(7)]
    expected = [c.slug for c in services.ordered_live()[0]]
    monkeypatch.setattr(services.live_page, "__defaults__", (None, None, None, 3))  # pages of three

    html = page_text(client.get(path))
    seen = card_slugs(live_section(html))
    assert re.search(r'class="button button-ghost more-link" href="[^"]+cursor=', html)  # the no-JS link
    nxt = re.search(r'hx-get="([^"]+)"\s+hx-trigger="revealed"', html).group(1)
    # Viewer counts move while someone scrolls: the snapshot keeps the order of the first page.
    for v in range(5):
        viewers.heartbeat(streamers[0].channel.id, f"late{v}", None)
    while nxt:
        body = page_text(client.get(nxt, headers={"HX-Request": "true"}))
        assert body.lstrip().startswith('<div class="live-page"')
        seen += card_slugs(body)
        found = re.search(r'hx-get="([^"]+)"', body)
        nxt = found.group(1) if found else None
    assert seen == expected and len(set(seen)) == 7

    # Without JavaScript, the "More" link is a whole page starting at that cursor.
    more = re.search(r'more-link" href="([^"]+)"', html).group(1)
    page = page_text(client.get(more))
    assert "<html" in page and "More live channels" in page and card_slugs(live_section(page)) == expected[3:6]


def test_expired_or_forged_cursor_starts_over(client):
    make_streamer("abc", live=True)
    for cursor in ("zzzzzzzzzzzz.0", "bogus", "../../x.1", "a" * 300):
        response = client.get("/directory", query_string={"cursor": cursor})
        assert response.status_code == 200
        assert "/c/abc" in page_text(response)


def test_home_for_anonymous_visitors(client):
    make_category("Music")
    make_streamer("busy", title="Busy", live=True, watching=2)
    html = page_text(client.get("/"))
    assert "Live now" in html and "/c/busy" in html and "2 viewers" in html
    assert "Live channels you follow" not in html
    assert "Categories" in html and "/directory/category/music" in html


def test_home_for_members_shows_live_channels_they_follow(app, login):
    fan = make_streamer("fan")
    followed = make_streamer("followed", title="Followed stream", live=True, watching=1)
    make_streamer("stranger", title="Stranger stream", live=True, watching=5)
    asleep = make_streamer("asleep", title="Asleep")
    for channel in (followed.channel, asleep.channel):
        db.session.add(Follow(follower_id=fan.id, channel_id=channel.id))
    db.session.commit()
    html = page_text(login("fan").get("/"))
    follows = html[html.index('id="followed-heading"'):html.index('id="live-heading"')]
    assert card_slugs(follows) == ["followed"]
    assert card_slugs(live_section(html)) == ["stranger", "followed"]


def test_home_for_members_with_nobody_live(app, login):
    make_streamer("fan")
    html = page_text(login("fan").get("/"))
    assert "None of the channels you follow is live" in html


def test_a_category_with_nobody_live_lists_its_channels(client, login):
    music = make_category("Music")
    make_category("Art")
    fresh = make_streamer("fresh", title="Never been live", category=music)
    earlier = make_streamer("earlier", title="Live last week", category=music)
    latest = make_streamer("latest", title="Live an hour ago", category=music)
    make_streamer("gone", category=music, disabled=True)
    make_streamer("painter", category=None)
    earlier.channel.last_live_at = utcnow() - timedelta(days=7)
    latest.channel.last_live_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert fresh.channel.last_live_at is None

    html = page_text(client.get("/directory/category/music"))
    assert "No one is streaming Music right now" in html
    # Not a dead end: its channels, the most recently live first, then the ones never live.
    assert card_slugs(section_after(html, "channels-heading")) == ["latest", "earlier", "fresh"]
    assert ">Channels in Music<" in html
    # A visitor cannot follow anyone: they are told what they can do.
    assert "Follow a few channels" not in html
    assert "Create an account</a> to follow them" in html
    member = page_text(login("painter").get("/directory/category/music"))
    assert "follow the ones you like" in member and "Create an account" not in member

    # Someone goes live: they lead the page, and the rest follow under "More channels".
    make_live(earlier)
    html = page_text(client.get("/directory/category/music"))
    assert card_slugs(live_section(html)) == ["earlier"]
    assert card_slugs(section_after(html, "channels-heading")) == ["latest", "fresh"]
    assert ">More channels in Music<" in html


def test_category_channels_are_live_first(app):
    music = make_category("Music")
    quiet = make_streamer("quiet", category=music)
    quiet.channel.last_live_at = utcnow()
    db.session.commit()
    make_streamer("onair", live=True, category=music)
    make_streamer("newbie", category=music)
    assert [c.slug for c in services.category_channels(music.id)] == ["onair", "quiet", "newbie"]
    assert [c.slug for c in services.category_channels(music.id, limit=1)] == ["onair"]


def test_an_empty_category_points_elsewhere(client):
    make_category("Music")
    html = page_text(client.get("/directory/category/music"))
    assert "No channel streams Music yet" in html and 'href="/directory"' in html
    assert "channels-heading" not in html and "Follow a few channels" not in html


def test_a_fresh_directory_only_points_at_what_is_there(client, login):
    html = page_text(client.get("/directory"))
    assert "No one is live right now" in html and "Check back soon." in html
    assert "below" not in html[html.index("No one is live"):html.index('id="cat-heading"')]
    assert "No categories yet." in html and "flask seed demo" not in html  # a visitor cannot run it
    make_user("boss", admin=True)
    assert "flask seed demo" in page_text(login("boss").get("/directory"))

    make_category("Music")
    html = page_text(client.get("/directory"))
    assert "Check back soon, or browse the categories below." in html and "No categories yet" not in html


def test_members_open_on_the_channels_they_follow(app, client, login):
    fan = make_streamer("fan")
    followed = make_streamer("followed", live=True)
    db.session.add(Follow(follower_id=fan.id, channel_id=followed.channel.id))
    db.session.commit()
    for member in (True, False):
        html = page_text(login("fan").get("/") if member else client.get("/"))
        main = html[html.index('<main id="main"'):]
        if member:
            # First in the page: the follows; the marketing pitch is for visitors.
            assert main.index('id="followed-heading"') < main.index('id="live-heading"')
            assert 'class="hero"' not in html and "Start streaming" not in html
            assert '<h1 class="visually-hidden">' in html
        else:
            assert main.index('class="hero"') < main.index('id="live-heading"')
