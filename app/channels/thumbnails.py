"""The picture that stands for a channel: the live frame, or a creator's own upload that overrides it."""
from __future__ import annotations

import hashlib
import logging

from flask import current_app

from ..extensions import db
from ..models import Channel
from ..pictures import PictureError, clean_variants, max_bytes

log = logging.getLogger(__name__)

SIZE = (1280, 720)
# Why an upload was refused; pictures are checked the same way everywhere (app/pictures.py).
ThumbnailError = PictureError


def _storage():
    from ..storage.backends import get_storage  # helper-2's storage interface

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
    return clean_variants(data, max_bytes(current_app.config), [SIZE])[0]


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
