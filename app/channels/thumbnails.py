"""The picture that stands for a channel: the live frame, or a creator's own upload that overrides it."""
from __future__ import annotations

import hashlib
import io
import logging
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from ..extensions import db
from ..models import Channel

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
SIZE = (1280, 720)
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
# A small file can still claim a huge canvas; refuse before decoding anything that big.
MAX_SOURCE_PIXELS = 40_000_000


class ThumbnailError(ValueError):
    """Why an upload was refused, in words the creator can act on."""


def _storage():
    from ..media.storage import get_storage  # helper-2's storage interface

    return get_storage()


def thumbnail_key(channel: Channel) -> str | None:
    return channel.custom_thumbnail_key or channel.thumbnail_key


def thumbnail_url(channel: Channel) -> str | None:
    """URL of the channel's picture for templates; None when there is none (cards fall back)."""
    key = thumbnail_key(channel)
    if not key:
        return None
    try:
        return _storage().url(key)
    except Exception:  # a missing picture must never break a page
        log.warning("channel %s: no URL for thumbnail %s", channel.id, key, exc_info=True)
        return None


def reencode(data: bytes) -> bytes:
    """A 1280x720 JPEG cover-cropped from an uploaded image, with no metadata carried over."""
    if not data:
        raise ThumbnailError("That file is empty. Choose a picture to upload.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ThumbnailError("That file is larger than 2 MB. Pick a smaller picture.")
    too_large = "That picture is too large. Use one under 40 megapixels."
    with warnings.catch_warnings():
        # Pillow only warns about a picture that claims a huge canvas; refuse it instead.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            source = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ThumbnailError("That file isn't a picture we can read. Upload a JPEG, PNG, WebP or GIF.") from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise ThumbnailError(too_large) from None
        if source.format not in ACCEPTED_FORMATS:
            raise ThumbnailError("Upload a JPEG, PNG, WebP or GIF picture.")
        if source.width * source.height > MAX_SOURCE_PIXELS:
            raise ThumbnailError(too_large)
        try:
            source.load()
            source = ImageOps.exif_transpose(source)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning):
            raise ThumbnailError("That picture looks damaged. Try exporting it again.") from None

    if source.mode in ("RGBA", "LA") or (source.mode == "P" and "transparency" in source.info):
        rgba = source.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        source = flat
    fitted = ImageOps.fit(source.convert("RGB"), SIZE, Image.Resampling.LANCZOS)
    # A fresh image carries no info dict: no EXIF, ICC, XMP or comments reach the stored file.
    clean = Image.new("RGB", SIZE)
    clean.paste(fitted)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def set_custom_thumbnail(channel: Channel, data: bytes) -> str:
    """Store a creator's picture and make it the channel's thumbnail; the previous upload is deleted."""
    jpeg = reencode(data)
    key = f"thumbnails/{channel.id}/custom-{hashlib.sha256(jpeg).hexdigest()[:16]}.jpg"
    storage = _storage()
    storage.put_bytes(key, jpeg, "image/jpeg")
    old = channel.custom_thumbnail_key
    channel.custom_thumbnail_key = key
    db.session.commit()
    if old and old != key:
        storage.delete(old)
    log.info("channel %s: custom thumbnail %s", channel.id, key)
    return key


def remove_custom_thumbnail(channel: Channel) -> bool:
    """Go back to the live frame. False when there was no upload to remove."""
    old = channel.custom_thumbnail_key
    if not old:
        return False
    channel.custom_thumbnail_key = None
    db.session.commit()
    _storage().delete(old)
    log.info("channel %s: custom thumbnail removed", channel.id)
    return True
