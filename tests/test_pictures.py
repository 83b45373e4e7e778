"""Uploaded pictures: phone photos accepted and re-encoded upright without metadata, canvases
too large refused before they are decoded, one size limit with the same words everywhere."""
import io
import os

import pytest
from PIL import Image

from app import pictures
from app.config import request_body_limit
from app.pictures import MIB, PictureError, clean_variants

LIMIT = 20 * MIB


def phone_photo(size=(4000, 3000), orientation=1, quality=95) -> bytes:
    """A camera-like JPEG: noisy (so it is big, as real photos are), EXIF with the camera, GPS
    position and orientation, and a red block at the top-left corner of the stored pixels."""
    width, height = size
    image = Image.merge("RGB", [Image.frombytes("L", (width // 2, height // 2),
                                                os.urandom((width // 2) * (height // 2))).resize(size)
                                for _ in range(3)])
    image.paste((255, 0, 0), (0, 0, width // 4, height // 4))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"            # Make
    exif[0x0112] = orientation             # Orientation
    exif[0x8825] = {1: "N", 2: (47.0, 22.0, 10.5), 3: "E", 4: (8.0, 32.0, 1.2)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def png(size, mode="1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def redness(image: Image.Image, box) -> float:
    r, g, b = image.convert("RGB").crop(box).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    return r - (g + b) / 2


def test_a_big_phone_photo_is_accepted_and_stored_small_and_clean():
    photo = phone_photo()
    assert len(photo) >= 10 * MIB  # an ordinary phone photo's size
    thumbnail, = clean_variants(photo, LIMIT, [(1280, 720)])
    stored = decoded(thumbnail)
    assert stored.format == "JPEG" and stored.size == (1280, 720)
    assert not stored.getexif() and not {"exif", "icc_profile", "xmp", "comment"} & set(stored.info)
    assert b"PhoneMaker" not in thumbnail and len(thumbnail) < MIB


@pytest.mark.parametrize("orientation, corner", [
    (1, "top-left"),      # as stored
    (6, "top-right"),     # held upright: the camera's "rotate 90° clockwise to view"
    (3, "bottom-right"),  # upside down
    (8, "bottom-left"),   # rotate 90° counter-clockwise to view
])
def test_exif_orientation_is_applied(orientation, corner):
    photo = phone_photo((1600, 1200), orientation, quality=80)
    avatar, = clean_variants(photo, LIMIT, [(512, 512)])
    stored = decoded(avatar)
    w, h = stored.size
    corners = {"top-left": (0, 0, 40, 40), "top-right": (w - 40, 0, w, 40),
               "bottom-left": (0, h - 40, 40, h), "bottom-right": (w - 40, h - 40, w, h)}
    assert redness(stored, corners[corner]) > 150, corner
    for other, box in corners.items():
        if other != corner:
            assert redness(stored, box) < 60, other


def test_a_portrait_photo_keeps_every_pixel_it_needs():
    """Decoded at a reduced scale (Image.draft) only as far as the largest variant allows: a
    turned 4000x3000 photo still fills a 1920x1080 background without being scaled up."""
    photo = phone_photo((4000, 3000), orientation=6, quality=80)
    background, small = clean_variants(photo, LIMIT, [(1920, 1080), (960, 540)])
    assert decoded(background).size == (1920, 1080) and decoded(small).size == (960, 540)
    source = Image.open(io.BytesIO(photo))
    source.draft("RGB", (1080, 1920))  # what the decoder is asked for, in the stored orientation
    assert source.size[0] >= 1080 and source.size[1] >= 1920


@pytest.mark.parametrize("data, message", [
    (png((8000, 5001)), "under 40 megapixels"),         # 40 MP and a row: a few kB of PNG
    (png((14000, 14000)), "under 40 megapixels"),       # past Pillow's own bomb limit
    (b"", "empty"),
    (png((64, 64), "RGB")[:60], "damaged"),
    (b"plain text", "isn't a picture we can read"),
], ids=["40-MP-and-a-row", "past-the-bomb-limit", "empty", "cut", "text"])
def test_refused_before_anything_big_is_decoded(data, message):
    with pytest.raises(PictureError, match=message):
        clean_variants(data, LIMIT, [(128, 128)])


def test_the_size_limit_and_its_words():
    assert pictures.max_bytes({"PICTURE_MAX_MB": 20}) == LIMIT
    assert request_body_limit(20) == 21 * MIB
    assert pictures.form_help(LIMIT) == "JPEG, PNG, WebP or GIF, up to 20 MB."
    assert pictures.too_large_message(LIMIT) == "That file is larger than 20 MB. Pick a smaller picture."
    with pytest.raises(PictureError, match="larger than 1 MB"):
        clean_variants(b"x" * (MIB + 1), MIB, [(128, 128)])


def test_40_megapixels_exactly_is_accepted():
    """The picture of the issue's stall: 113 KiB of PNG that decodes to 40 MP."""
    data = png((8000, 5000), "RGB")
    assert len(data) < 200 * 1024
    avatar, = clean_variants(data, LIMIT, [(512, 512)])
    assert decoded(avatar).size == (512, 512)


def test_off_loop_runs_in_place_without_gevent():
    """Tests and jobs are not on gevent's loop: the work runs in the caller's thread."""
    import threading

    assert pictures.off_loop(threading.get_ident) == threading.get_ident()


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import gevent
from app import pictures

native_ident = monkey.get_original("_thread", "get_ident")
native_sleep = monkey.get_original("time", "sleep")
ticks = []
ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(1000)])

def busy():  # stands in for Pillow's decoding: holds its thread, not the loop
    native_sleep(0.5)
    return native_ident()

worker = pictures.off_loop(busy)
import io
from PIL import Image
png = io.BytesIO()
Image.new("RGB", (64, 64)).save(png, "PNG")
try:  # identified in the caller, found damaged in the pool
    pictures.clean_variants(png.getvalue()[:70], 1024, [(8, 8)])
except pictures.PictureError as error:
    refused = str(error)
ticker.kill()
print(worker != native_ident(), len(ticks) >= 20, refused)
"""


def test_off_loop_uses_a_native_thread_on_gevents_loop():
    """In the web's gevent worker the work runs on a real thread: the loop (a greenlet ticking
    every 10 ms here) keeps running meanwhile, and a refusal reaches the caller as itself."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], cwd=root, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True That picture looks damaged. Try exporting it again."
    assert "PictureError" not in result.stderr  # not printed by gevent as a crashed task
