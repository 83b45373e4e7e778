"""Every picture form over HTTP: one size limit (PICTURE_MAX_MB) stated on each form, a clear
answer above it even past the request body limit, phone photos accepted, and uploads rate-limited
per account (UPLOAD_RATE_LIMIT) with a message that says when to try again."""
import io
import re

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import Channel, Profile
from app.pictures import MIB
from tests.conftest import page_text
from tests.factories import make_user

from .test_pictures import decoded, phone_photo, png

HX = {"HX-Request": "true"}
FORMS = {  # the page that shows the form, where it posts, and the file field's name
    "thumbnail": ("/dashboard", "/dashboard/thumbnail", ""),
    "avatar": ("/settings/profile", "/settings/profile/picture/avatar", "avatar-"),
    "banner": ("/settings/profile", "/settings/profile/picture/banner", "banner-"),
    "background": ("/settings/profile", "/settings/profile/picture/background", "background-"),
}


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), PICTURE_MAX_MB=2,
                   MAX_CONTENT_LENGTH=3 * MIB, UPLOAD_RATE_LIMIT="4 per minute")
    with app.app_context():
        yield app


@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


def upload(actions, form: str, data: bytes, name="photo.jpg", headers=None):
    page, path, prefix = FORMS[form]
    boundary, body = encode_multipart(MultiDict({
        f"{prefix}csrf_token": actions.csrf(page),
        f"{prefix}picture": FileStorage(io.BytesIO(data), filename=name, content_type="image/jpeg"),
    }))
    return actions.client.post(path, data=body, headers=headers or {},
                               content_type=f"multipart/form-data; boundary={boundary}")


def stored_keys(user) -> tuple:
    db.session.expire_all()
    profile, channel = db.session.get(Profile, user.id), db.session.get(Channel, user.channel.id)
    return profile.avatar_key, profile.banner_key, profile.background_key, channel.custom_thumbnail_key


@pytest.mark.parametrize("form", FORMS)
def test_every_form_states_the_one_limit_and_lets_the_browser_check_it(app, client, alice, form):
    page, path, prefix = FORMS[form]
    html = page_text(client.get(page))
    field = re.search(rf'<input[^>]*id="{prefix}picture"[^>]*>', html).group(0)
    assert f'data-max-bytes="{2 * MIB}"' in field
    assert 'data-too-large="That file is larger than 2 MB. Pick a smaller picture."' in field
    assert 'accept="image/jpeg,image/png,image/webp,image/gif"' in field
    help_id = re.search(r'aria-describedby="([^" ]+)', field).group(1)
    assert re.search(rf'id="{help_id}">JPEG, PNG, WebP or GIF, up to 2 MB\.', html)


@pytest.mark.parametrize("form", ["thumbnail", "avatar"])
@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_a_file_over_the_limit_is_refused_with_the_limit_in_words(app, alice, form, headers):
    before = stored_keys(alice)
    response = upload(actions_of(app, alice), form, b"\xff\xd8" + b"x" * (2 * MIB), headers=headers)
    assert response.status_code == 200
    assert "That file is larger than 2 MB. Pick a smaller picture." in page_text(response)
    assert stored_keys(alice) == before


def actions_of(app, user):
    from tests.conftest import Actions

    actions = Actions(app.test_client())
    actions.login(user.username)
    return actions


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_a_body_over_the_request_limit_gets_the_same_words(app, actions, alice, headers):
    """Past MAX_CONTENT_LENGTH the form is never read: a 413 page whose message site.js shows
    in the form (data-error-message), and nothing stored changes."""
    before = stored_keys(alice)
    response = upload(actions, "thumbnail", b"x" * (4 * MIB), headers=headers)
    assert response.status_code == 413
    html = page_text(response)
    assert re.search(r'data-error-message>That file is larger than 2 MB\. Pick a smaller picture\.<', html)
    assert stored_keys(alice) == before


def test_nginx_413_page_comes_from_the_app(app, client):
    """nginx's error_page 413 asks for this (GET, no body): the same page and words."""
    response = client.get("/internal/too-large")
    assert response.status_code == 413
    assert "That file is larger than 2 MB. Pick a smaller picture." in page_text(response)


@pytest.mark.parametrize("form, size", [("thumbnail", (1280, 720)), ("avatar", (512, 512))])
def test_an_ordinary_phone_photo_is_accepted_and_re_encoded_down(make_app, tmp_path, form, size):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"))  # the site's defaults: 20 MB
    with app.app_context():
        alice = make_user("alice")
        actions = actions_of(app, alice)
        photo = phone_photo((4000, 3000), orientation=6)
        assert len(photo) >= 10 * MIB
        response = upload(actions, form, photo, headers=HX)
        html = page_text(response)
        assert response.status_code == 200 and 'class="error"' not in html
        assert ("Thumbnail saved." if form == "thumbnail" else "Uploaded.") in html
        from app.storage.backends import get_storage

        avatar, _, _, thumbnail = stored_keys(alice)
        key = thumbnail if form == "thumbnail" else f"{avatar}-512.jpg"
        data = get_storage(app.config).get_bytes(key)
        stored = decoded(data)
        assert stored.size == size and not stored.getexif() and b"PhoneMaker" not in data
        assert len(data) < MIB


def test_uploads_are_rate_limited_per_account_across_every_picture_form(app, actions, alice):
    picture = png((64, 64), "RGB")
    for form in ("avatar", "banner", "thumbnail", "background"):
        assert upload(actions, form, picture, headers=HX).status_code == 200, form
    before = stored_keys(alice)
    refused = upload(actions, "avatar", png((80, 80), "RGB"), headers=HX)
    assert refused.status_code == 429
    message = re.search(r"data-error-message>([^<]+)<", page_text(refused)).group(1)
    assert re.fullmatch(r"You have uploaded a lot of pictures in a short time\. "
                        r"Try again in ([0-9]+ seconds?|a minute)\.", message), message
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert stored_keys(alice) == before
    # Someone else, on the same address, uploads on.
    bob = make_user("bob")
    assert upload(actions_of(app, bob), "avatar", picture, headers=HX).status_code == 200
    # Removing a picture is not an upload.
    page, _, _ = FORMS["avatar"]
    assert actions.post("/settings/profile/picture/avatar/remove", token_from=page, headers=HX).status_code == 200
