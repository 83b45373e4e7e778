"""The profile editor at /settings/profile: every section, its rules, and that bad input changes nothing."""
import io

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.auth import services as accounts
from app.extensions import db
from app.models import Profile, TopFriend, User
from app.profiles import services
from app.storage.backends import get_storage
from tests.conftest import page_text
from tests.factories import make_user

HX = {"HX-Request": "true"}
EDITOR = "/settings/profile"


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"))
    with app.app_context():
        yield app


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


def profile_of(user) -> Profile:
    db.session.expire_all()
    return db.session.get(Profile, user.id)


def slots(user) -> list[tuple[int, str]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(TopFriend.position, User.username).join(User, User.id == TopFriend.friend_id)
        .where(TopFriend.profile_id == user.id).order_by(TopFriend.position)
    )
    return [tuple(row) for row in rows]


def post(actions, path, data=None, **kwargs):
    return actions.post(path, data or {}, token_from=EDITOR, **kwargs)


# --- pages and access --------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("get", EDITOR), ("post", EDITOR), ("post", f"{EDITOR}/preview"), ("post", f"{EDITOR}/picture/avatar"),
    ("post", f"{EDITOR}/featured"), ("post", f"{EDITOR}/theme"), ("get", f"{EDITOR}/top8/search?username=a"),
    ("post", f"{EDITOR}/top8"), ("post", f"{EDITOR}/top8/1/up"),
])
def test_anonymous_is_sent_to_login(app, client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code in (302, 400)  # 400: the CSRF check runs before login on posts
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


def test_editor_page_has_every_section_and_is_linked_from_settings(app, client, alice):
    html = page_text(client.get(EDITOR))
    for section in ("profile-details", "picture-avatar", "picture-banner", "picture-background",
                    "profile-featured-form", "profile-theme", "top8-editor"):
        assert f'id="{section}"' in html
    assert f'href="{EDITOR}"' in page_text(client.get("/settings/account"))
    assert 'style="' not in html


# --- name and bio ------------------------------------------------------------------------

def test_save_name_and_bio_with_htmx_returns_the_section(app, actions, alice):
    response = post(actions, EDITOR, {"display_name": "  Alice\u202e  Live ", "bio": "I *stream*"}, headers=HX)
    html = page_text(response)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="profile-details"')
    assert "Saved." in html and "Vary" in response.headers
    profile = profile_of(alice)
    assert profile.display_name == "Alice Live"  # bidi override and extra spaces gone
    assert profile.bio == "I *stream*"


def test_save_without_htmx_redirects(app, actions, alice):
    response = post(actions, EDITOR, {"display_name": "Al", "bio": ""})
    assert response.status_code == 303 and response.headers["Location"].endswith(EDITOR)
    assert profile_of(alice).display_name == "Al"


@pytest.mark.parametrize("data, message", [
    ({"display_name": "x" * 51, "bio": "new"}, "Keep your display name to 50 characters."),
    ({"display_name": "New", "bio": "b" * 2001}, "Keep your bio to 2000 characters"),
])
@pytest.mark.parametrize("headers", [HX, {}])
def test_bad_details_rerender_with_the_reason_and_change_nothing(app, actions, alice, data, message, headers):
    post(actions, EDITOR, {"display_name": "Before", "bio": "old bio"})
    response = post(actions, EDITOR, data, headers=headers)
    html = page_text(response)
    assert response.status_code == 200 and message in html
    if headers:
        assert html.lstrip().startswith('<section id="profile-details"')
    else:
        assert "<html" in html
    profile = profile_of(alice)
    assert (profile.display_name, profile.bio) == ("Before", "old bio")


def test_bio_preview_is_sanitised(app, actions, alice):
    response = post(actions, f"{EDITOR}/preview", {"bio": "**hi** <script>alert(1)</script> [x](javascript:alert(1))"},
                    headers=HX)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="bio-preview"')
    assert "<strong>hi</strong>" in html and "<script" not in html
    assert "javascript:" not in html.replace("(javascript:", "")
    assert "<a " not in html


# --- pictures ----------------------------------------------------------------------------

def picture(fmt="PNG", size=(900, 700), color=(200, 40, 90), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def exif_png() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    return picture("PNG", exif=exif.tobytes(), pnginfo=None)


def bilevel(size) -> bytes:
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")
    return out.getvalue()


def upload(actions, kind, data, name="picture.png", **kwargs):
    boundary, body = encode_multipart(MultiDict({
        f"{kind}-csrf_token": actions.csrf(EDITOR),
        f"{kind}-picture": FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream"),
    }))
    return actions.client.post(f"{EDITOR}/picture/{kind}", data=body,
                               content_type=f"multipart/form-data; boundary={boundary}", **kwargs)


def stored_files(app):
    root = get_storage(app.config).root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind, sizes", [
    ("avatar", [(512, 512), (128, 128)]),
    ("banner", [(1500, 500), (750, 250)]),
    ("background", [(1920, 1080), (960, 540)]),
])
def test_upload_stores_clean_resized_variants(app, actions, alice, kind, sizes):
    source = exif_png()
    assert Image.open(io.BytesIO(source)).getexif()  # the upload really carries EXIF
    response = upload(actions, kind, source, headers=HX)
    html = page_text(response)
    assert response.status_code == 200 and html.lstrip().startswith(f'<section id="picture-{kind}"')
    assert "Uploaded." in html
    base = getattr(profile_of(alice), f"{kind}_key")
    assert base.startswith(f"profiles/{alice.id}/{kind}-")
    storage = get_storage(app.config)
    for width, height in sizes:
        data = storage.get_bytes(f"{base}-{width}.jpg")
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (width, height)
            assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
        assert b"SecretCam" not in data
    assert len(stored_files(app)) == len(sizes)


def test_avatar_upload_shows_everywhere_the_avatar_macro_is_used(app, actions, client, alice):
    upload(actions, "avatar", picture())
    base = profile_of(alice).avatar_key
    assert f'src="/media/{base}-512.jpg"' in page_text(client.get("/u/alice"))
    assert f'src="/media/{base}-128.jpg"' in page_text(client.get("/"))  # the header's account menu


def test_new_upload_replaces_and_deletes_the_old_one(app, actions, alice):
    upload(actions, "banner", picture(color=(1, 2, 3)))
    first = profile_of(alice).banner_key
    upload(actions, "banner", picture(color=(9, 9, 9)))
    second = profile_of(alice).banner_key
    assert first != second
    assert stored_files(app) == [f"{second}-1500.jpg", f"{second}-750.jpg"]


def test_background_upload_switches_the_theme_and_remove_switches_back(app, actions, alice):
    upload(actions, "background", picture())
    assert profile_of(alice).theme_background == "image"
    response = post(actions, f"{EDITOR}/picture/background/remove", headers=HX)
    assert response.status_code == 200 and "Removed." in page_text(response)
    profile = profile_of(alice)
    assert profile.background_key is None and profile.theme_background == "plain"
    assert stored_files(app) == []


@pytest.mark.parametrize("data, name, message", [
    (b"x" * (20 * 1024 * 1024 + 1), "big.png", "larger than 20 MB"),  # PICTURE_MAX_MB
    (b"%PDF-1.4 definitely not a picture", "cv.png", "isn't a picture we can read"),
    (b"", "empty.png", "Choose a picture to upload."),
    (picture("BMP", size=(64, 64)), "old.bmp", "Upload a JPEG, PNG, WebP or GIF"),
    (picture("PNG")[:200], "cut.png", "damaged"),
    (bilevel((8000, 6000)), "huge.png", "too large"),     # 48 megapixels in a few kB
    (bilevel((14000, 14000)), "bomb.png", "too large"),   # past Pillow's decompression-bomb limit
], ids=lambda value: value if isinstance(value, str) and value.endswith((".png", ".bmp")) else "")
def test_bad_upload_rerenders_the_form_and_changes_nothing(app, actions, alice, data, name, message):
    upload(actions, "avatar", picture(color=(1, 2, 3)))
    before, files = profile_of(alice).avatar_key, stored_files(app)
    response = upload(actions, "avatar", data, name=name, headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="picture-avatar"')
    assert message in html and "Uploaded." not in html
    assert profile_of(alice).avatar_key == before
    assert stored_files(app) == files


def test_unknown_picture_kind_is_404(app, actions, alice):
    assert post(actions, f"{EDITOR}/picture/wallpaper").status_code == 404


# --- featured channel and theme ----------------------------------------------------------

def test_feature_another_channel_then_go_back_to_your_own(app, actions, alice):
    bob = make_user("bob")
    response = post(actions, f"{EDITOR}/featured", {"featured_channel": "@Bob"}, headers=HX)
    assert "Your profile features /c/bob." in page_text(response)
    assert profile_of(alice).featured_channel_id == bob.channel.id
    post(actions, f"{EDITOR}/featured", {"featured_channel": ""}, headers=HX)
    assert profile_of(alice).featured_channel_id is None


@pytest.mark.parametrize("name", ["nobody-here", "carol"])
def test_unknown_or_disabled_featured_channel_is_refused(app, actions, alice, name):
    bob = make_user("bob")
    make_user("carol", disabled=True)
    post(actions, f"{EDITOR}/featured", {"featured_channel": "bob"})
    response = post(actions, f"{EDITOR}/featured", {"featured_channel": name}, headers=HX)
    html = page_text(response)
    assert html.lstrip().startswith('<section id="profile-featured-form"')
    assert "There is no channel with that name." in html
    assert profile_of(alice).featured_channel_id == bob.channel.id


def test_theme_presets_save(app, actions, alice):
    response = post(actions, f"{EDITOR}/theme", {"accent": "violet", "background": "aurora"}, headers=HX)
    assert "Theme saved." in page_text(response)
    profile = profile_of(alice)
    assert (profile.theme_accent, profile.theme_background) == ("violet", "aurora")


@pytest.mark.parametrize("data, message", [
    ({"accent": "red;}body{display:none", "background": "plain"}, "Pick one of the accent colours shown."),
    ({"accent": "violet", "background": "url(https://evil.example/x.png)"}, "Pick one of the backgrounds shown."),
    ({"accent": "violet", "background": "image"}, "Upload a background picture first."),
    ({"background": "plain"}, "Pick one of the accent colours shown."),
])
def test_bad_theme_is_refused_and_changes_nothing(app, actions, alice, data, message):
    response = post(actions, f"{EDITOR}/theme", data, headers=HX)
    html = page_text(response)
    assert html.lstrip().startswith('<section id="profile-theme"') and message in html
    profile = profile_of(alice)
    assert (profile.theme_accent, profile.theme_background) == ("teal", "plain")


# --- the Top 8 ---------------------------------------------------------------------------

def add(actions, username, **kwargs):
    return post(actions, f"{EDITOR}/top8", {"username": username}, **kwargs)


@pytest.mark.both_databases  # unique slots, checked row by row while reordering
def test_add_and_reorder_and_remove_keep_positions_contiguous(app, actions, alice):
    for name in ("bob", "carol", "dave"):
        make_user(name)
        add(actions, name)
    assert slots(alice) == [(0, "bob"), (1, "carol"), (2, "dave")]
    dave = services.user_by_username("dave")
    response = post(actions, f"{EDITOR}/top8/{dave.id}/up", headers=HX)
    assert page_text(response).lstrip().startswith('<section id="top8-editor"')
    assert slots(alice) == [(0, "bob"), (1, "dave"), (2, "carol")]
    bob = services.user_by_username("bob")
    post(actions, f"{EDITOR}/top8/{bob.id}/up")  # already first: nothing moves
    post(actions, f"{EDITOR}/top8/{bob.id}/down")
    assert slots(alice) == [(0, "dave"), (1, "bob"), (2, "carol")]
    post(actions, f"{EDITOR}/top8/{bob.id}/remove")
    assert slots(alice) == [(0, "dave"), (1, "carol")]
    carol = services.user_by_username("carol")
    post(actions, f"{EDITOR}/top8/{carol.id}/down")  # already last
    assert slots(alice) == [(0, "dave"), (1, "carol")]


@pytest.mark.both_databases  # unique slots, checked row by row while reordering
def test_a_full_top_8_can_still_be_reordered(app, actions, alice):
    names = [f"friend{i}" for i in range(8)]
    for name in names:
        make_user(name)
        add(actions, name)
    last = services.user_by_username("friend7")
    for _ in range(7):
        post(actions, f"{EDITOR}/top8/{last.id}/up")
    assert slots(alice) == list(enumerate(["friend7"] + names[:7]))


@pytest.mark.parametrize("username, message", [
    ("alice", "You can't add yourself to your Top 8."),
    ("ALICE", "You can't add yourself to your Top 8."),
    ("bob", "@bob is already in your Top 8."),
    ("@Bob", "@bob is already in your Top 8."),
    ("nobody", "There is no one with that username."),
    ("mallory", "There is no one with that username."),  # disabled
    ("", "There is no one with that username."),
])
@pytest.mark.both_databases  # unique friend and not-self constraints
def test_add_refuses_self_duplicates_and_unknown_people(app, actions, alice, username, message):
    make_user("bob")
    make_user("mallory", disabled=True)
    add(actions, "bob")
    response = add(actions, username, headers=HX)
    html = page_text(response)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="top8-editor"')
    assert message in html and "Top 8 updated." not in html
    assert slots(alice) == [(0, "bob")]


@pytest.mark.both_databases  # the slot's check constraint
def test_at_most_eight(app, actions, alice):
    for i in range(9):
        make_user(f"friend{i}")
    for i in range(8):
        add(actions, f"friend{i}")
    response = add(actions, "friend8", headers=HX)
    assert "Your Top 8 is full. Remove someone first." in page_text(response)
    assert len(slots(alice)) == 8
    with pytest.raises(services.ProfileError):
        services.add_top_friend(profile_of(alice).user, "friend8")


def test_disabled_friends_are_hidden_and_drop_out_on_the_next_edit(app, actions, client, alice):
    for name in ("bob", "carol", "dave"):
        make_user(name)
        add(actions, name)
    accounts.set_disabled(services.user_by_username("carol"), True)
    html = page_text(client.get(EDITOR))
    assert "@carol" not in html and "2 of 8" in html
    assert "@carol" not in page_text(client.get("/u/alice"))
    dave = services.user_by_username("dave")
    post(actions, f"{EDITOR}/top8/{dave.id}/up")
    assert slots(alice) == [(0, "dave"), (1, "bob")]


@pytest.mark.both_databases  # LIKE with escapes over lower()
def test_search_leaves_out_self_disabled_and_already_added(app, actions, client, alice):
    for name in ("alina", "alfred", "albert"):
        make_user(name)
    make_user("alvin", disabled=True)
    add(actions, "albert")
    html = page_text(client.get(f"{EDITOR}/top8/search?username=al", headers=HX))
    assert html.lstrip().startswith('<div id="top8-results"')
    assert "@alina" in html and "@alfred" in html
    for absent in ("@alice", "@alvin", "@albert"):
        assert absent not in html
    assert "No one matches" in page_text(client.get(f"{EDITOR}/top8/search?username=%25"))


@pytest.mark.both_databases  # LIKE with escapes over lower()
def test_search_matches_display_names_and_escapes_them(app, actions, client, alice):
    bob = make_user("bob")
    services.update_details(bob, "<img src=x onerror=alert(1)> Bobby", "")
    html = client.get(f"{EDITOR}/top8/search?username=bobby", headers=HX).get_data(as_text=True)
    assert "@bob" in html and "<img src=x" not in html and "&lt;img src=x" in html
