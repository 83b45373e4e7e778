"""The public profile at /u/<username>: escaped content, Top 8, featured channel, theme, VODs."""
import pytest

from app.auth import services as accounts
from app.extensions import db
from app.models import VOD, utcnow
from app.profiles import services
from tests.conftest import page_text
from tests.factories import make_live, make_user

HX = {"HX-Request": "true"}
XSS = '<script>alert("x")</script>'


def html_of(client, path="/u/alice", **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["nobody", "mallory"])
def test_unknown_and_disabled_users_are_404(app, client, username):
    make_user("mallory", disabled=True)
    assert client.get(f"/u/{username}").status_code == 404


def test_username_is_case_insensitive(app, client):
    make_user("Alice")
    assert client.get("/u/ALICE").status_code == 200


def test_display_name_and_bio_are_escaped_and_sanitised(app, client):
    alice = make_user("alice")
    services.update_details(alice, XSS, f"Hello *world* {XSS} [bad](javascript:alert(1)) [good](https://example.com)")
    html = html_of(client)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html
    assert "<em>world</em>" in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.com" rel="nofollow noopener noreferrer ugc">good</a>' in html


def test_no_inline_styles_or_scripts(app, client):
    alice = make_user("alice")
    services.update_details(alice, "Alice", "bio")
    html = html_of(client)
    assert 'style="' not in html and "<script>" not in html


def test_top_eight_in_order_escaped_with_live_badges_and_without_disabled(app, client):
    alice = make_user("alice")
    friends = [make_user(f"friend{i}") for i in range(4)]
    services.update_details(friends[0], XSS, "")
    make_live(friends[1])
    for friend in friends:
        services.add_top_friend(alice, friend.username)
    accounts.set_disabled(friends[3], True)
    html = html_of(client)
    top8 = html[html.index('id="profile-top8"'):]
    top8 = top8[:top8.index("</section>")]
    assert [f"/u/friend{i}" for i in range(3)] == [part.split('"')[0] for part in top8.split('href="')[1:]]
    assert "friend3" not in top8
    assert "<script>alert" not in top8 and "&lt;script&gt;" in top8
    assert top8.count("badge-live") == 1


def test_empty_top_eight_and_vods_have_friendly_text(app, client):
    make_user("alice")
    text = page_text(client.get("/u/alice"))
    assert "hasn't picked a Top 8 yet" in text
    assert "No recorded broadcasts yet" in text
    assert "hasn't written a bio yet" in text


def test_own_channel_is_featured_by_default_and_live_preview_refreshes(app, client):
    alice = make_user("alice")
    html = html_of(client)
    assert 'id="profile-featured"' in html and 'href="/c/alice"' in html
    assert "hx-trigger=\"every 30s\"" not in html and "Visit channel" in html
    make_live(alice)
    html = html_of(client)
    assert 'hx-get="/u/alice/featured"' in html and "Watch live" in html and "status-live" in html


def test_featured_fragment_for_htmx_and_redirect_otherwise(app, client):
    alice = make_user("alice")
    make_live(alice)
    response = client.get("/u/alice/featured", headers=HX)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    assert response.get_data(as_text=True).lstrip().startswith('<section id="profile-featured"')
    response = client.get("/u/alice/featured")
    assert response.status_code == 303 and response.headers["Location"].endswith("/u/alice")


def test_featuring_someone_elses_channel(app, client):
    alice = make_user("alice")
    bob = make_user("bob")
    make_live(bob)
    services.set_featured_channel(alice, "bob")
    html = html_of(client)
    assert "Featured channel" in html and 'href="/c/bob"' in html and "Watch live" in html
    accounts.set_disabled(bob, True)  # a disabled owner's channel falls back to one's own
    html = html_of(client)
    assert 'href="/c/bob"' not in html and 'href="/c/alice"' in html


@pytest.mark.parametrize("accent, background, expected", [
    ("violet", "aurora", "profile-page theme-accent-violet bg-aurora"),
    ("teal", "plain", "profile-page theme-accent-teal bg-plain"),
    ("x;}*{color:red", "url(evil)", "profile-page theme-accent-teal bg-plain"),  # stored junk falls back
    ("rose", "image", "profile-page theme-accent-rose bg-plain"),               # no picture uploaded
])
def test_theme_is_preset_classes_only(app, client, accent, background, expected):
    alice = make_user("alice")
    alice.profile.theme_accent, alice.profile.theme_background = accent, background
    db.session.commit()
    html = html_of(client)
    assert f'<main id="main" class="{expected}" ' in html
    assert "evil" not in html and "color:red" not in html


@pytest.mark.both_databases  # ORDER BY ... NULLS LAST
def test_published_vods_show_and_private_ones_do_not(app, client):
    alice = make_user("alice")
    db.session.add_all([
        VOD(channel_id=alice.channel.id, title="Public run", object_key="vod/1/a.mp4", duration_seconds=3725,
            visibility="public", published_at=utcnow()),
        VOD(channel_id=alice.channel.id, title="Secret run", object_key="vod/1/b.mp4", visibility="private"),
    ])
    db.session.commit()
    text = page_text(client.get("/u/alice"))
    assert "Public run" in text and "1:02:05" in text  # h:mm:ss, as players show it
    assert "Secret run" not in text


def test_owner_sees_an_edit_link_and_others_a_follow_button(app, client, actions):
    make_user("alice")
    make_user("bob")
    assert "/settings/profile" not in html_of(client)
    actions.login("alice")
    assert 'href="/settings/profile"' in html_of(client)
    assert "follower" in page_text(client.get("/u/alice"))
