"""A creator's own thumbnail: validated, re-encoded to 1280x720 JPEG without metadata, replaceable."""
import io

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import Channel
from app.storage.backends import get_storage
from tests.conftest import page_text
from tests.factories import make_live, make_user

HX = {"HX-Request": "true"}


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


def picture(fmt="PNG", size=(1600, 1200), color=(200, 40, 90), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def bilevel(size) -> bytes:
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")
    return out.getvalue()


def exif_png() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"            # Make
    exif[0x0131] = "Leaky Editor 1.0"     # Software
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPSInfo: latitude
    return picture("PNG", exif=exif.tobytes())


def upload(actions, data: bytes, name="picture.png", **kwargs):
    # Encoded here in memory: the test client would spool a big body to a file it never closes.
    boundary, body = encode_multipart(MultiDict({
        "csrf_token": actions.csrf("/dashboard"),
        "picture": FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream"),
    }))
    return actions.client.post("/dashboard/thumbnail", data=body,
                               content_type=f"multipart/form-data; boundary={boundary}", **kwargs)


def channel_of(user) -> Channel:
    db.session.expire_all()
    return db.session.get(Channel, user.channel.id)


def stored_files(app):
    root = get_storage(app.config).root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_upload_stores_a_clean_1280x720_jpeg(app, actions, alice):
    source = exif_png()
    assert Image.open(io.BytesIO(source)).getexif()  # the upload really carries EXIF
    response = upload(actions, source, headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="thumbnail"') and "Thumbnail saved." in html
    key = channel_of(alice).custom_thumbnail_key
    assert key.startswith(f"thumbnails/{alice.channel.id}/custom-") and key.endswith(".jpg")
    assert stored_files(app) == [key]
    data = get_storage(app.config).get_bytes(key)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (1280, 720)
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"SecretCam" not in data and b"Leaky" not in data
    assert f'src="/media/{key}"' in html


def test_cover_crop_keeps_the_centre(app, actions, alice):
    # A tall picture: red top and bottom bands, green middle. 16:9 cover-crop keeps the green.
    image = Image.new("RGB", (900, 1600), (255, 0, 0))
    image.paste((0, 200, 0), (0, 400, 900, 1200))
    out = io.BytesIO()
    image.save(out, "PNG")
    upload(actions, out.getvalue(), headers=HX)
    data = get_storage(app.config).get_bytes(channel_of(alice).custom_thumbnail_key)
    with Image.open(io.BytesIO(data)) as stored:
        r, g, b = stored.convert("RGB").getpixel((640, 10))
        assert g > 150 and r < 80


def test_new_upload_replaces_and_deletes_the_old_one(app, actions, alice):
    upload(actions, picture(color=(10, 10, 10)), headers=HX)
    first = channel_of(alice).custom_thumbnail_key
    upload(actions, picture("JPEG", color=(250, 250, 250)), name="b.jpg", headers=HX)
    second = channel_of(alice).custom_thumbnail_key
    assert first != second
    assert stored_files(app) == [second]


def test_without_htmx_redirects(app, actions, alice):
    response = upload(actions, picture())
    assert response.status_code == 303
    assert channel_of(alice).custom_thumbnail_key


@pytest.mark.parametrize("data, name, message", [
    (b"x" * (20 * 1024 * 1024 + 1), "big.png", "larger than 20 MB"),  # PICTURE_MAX_MB
    (b"%PDF-1.4 definitely not a picture", "cv.png", "isn't a picture we can read"),
    (b"", "empty.png", "Choose a picture to upload."),
    (picture("BMP", size=(64, 64)), "old.bmp", "Upload a JPEG, PNG, WebP or GIF"),
    (picture("PNG")[:200], "cut.png", "damaged"),
    (bilevel((8000, 6000)), "huge.png", "too large"),     # 48 megapixels in a few kB
    (bilevel((14000, 14000)), "bomb.png", "too large"),   # past Pillow's decompression-bomb limit
], ids=lambda value: value if isinstance(value, str) and value.endswith((".png", ".bmp")) else "")
def test_bad_input_rerenders_the_form_and_changes_nothing(app, actions, alice, data, name, message):
    upload(actions, picture(color=(1, 2, 3)), headers=HX)
    before = channel_of(alice).custom_thumbnail_key
    response = upload(actions, data, name=name, headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="thumbnail"')
    assert message in html and "Thumbnail saved." not in html
    assert channel_of(alice).custom_thumbnail_key == before
    assert stored_files(app) == [before]


def test_bad_input_without_htmx_rerenders_the_page(app, actions, alice):
    response = upload(actions, b"not a picture", name="x.png")
    assert response.status_code == 200
    html = page_text(response)
    assert "<html" in html and "isn't a picture we can read" in html


def test_remove_goes_back_to_the_live_frame(app, actions, alice):
    upload(actions, picture(), headers=HX)
    key = channel_of(alice).custom_thumbnail_key
    html = page_text(actions.post("/dashboard/thumbnail/remove", token_from="/dashboard", headers=HX))
    assert html.lstrip().startswith('<section id="thumbnail"') and ">Remove<" not in html
    assert channel_of(alice).custom_thumbnail_key is None
    assert stored_files(app) == []
    assert key not in html


def test_custom_thumbnail_shows_on_cards_and_the_offline_player(app, actions, client, alice):
    channel = channel_of(alice)
    channel.thumbnail_key = f"thumbnails/{channel.id}/live.jpg"
    db.session.commit()
    html = client.get(f"/c/{channel.slug}").get_data(as_text=True)
    assert f'src="/media/thumbnails/{channel.id}/live.jpg"' in html
    upload(actions, picture(), headers=HX)
    key = channel_of(alice).custom_thumbnail_key
    html = client.get(f"/c/{channel.slug}").get_data(as_text=True)
    assert f'src="/media/{key}"' in html and "live.jpg" not in html
    make_live(channel_of(alice).owner)  # home and directory list live channels
    for path in ("/", "/directory"):
        html = client.get(path).get_data(as_text=True)
        assert f'src="/media/{key}"' in html, path
        assert "live.jpg" not in html


def test_cards_without_a_thumbnail_keep_the_gradient(app, client, alice):
    make_live(alice)
    html = client.get("/directory").get_data(as_text=True)
    assert 'class="thumb thumb-c' in html and "thumb-img" not in html


@pytest.mark.parametrize("method, path", [("get", "/dashboard/thumbnail"), ("post", "/dashboard/thumbnail/remove")])
def test_anonymous_is_sent_to_login(app, client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code in ((302,) if method == "get" else (302, 400))
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
