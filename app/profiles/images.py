"""Profile pictures (avatar, banner, background): re-encoded variants in object storage."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from flask import current_app

from ..extensions import db
from ..models import Profile, User
from ..pictures import PictureError, clean_variants, max_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PictureKind:
    column: str
    sizes: tuple[tuple[int, int], ...]  # largest first; the first is the one pages fall back to
    label: str


KINDS = {
    "avatar": PictureKind("avatar_key", ((512, 512), (128, 128)), "Avatar"),
    "banner": PictureKind("banner_key", ((1500, 500), (750, 250)), "Banner"),
    "background": PictureKind("background_key", ((1920, 1080), (960, 540)), "Background"),
}


def _storage():
    from ..storage.backends import get_storage

    return get_storage()


def variant_key(base: str, width: int) -> str:
    return f"{base}-{width}.jpg"


def picture_url(profile: Profile | None, kind: str, width: int | None = None) -> str | None:
    """URL of one stored variant (the largest by default), or None when there is no upload."""
    if profile is None:
        return None
    spec = KINDS[kind]
    base = getattr(profile, spec.column)
    if not base:
        return None
    widths = [w for w, _ in spec.sizes]
    if width not in widths:
        width = widths[0]
    return stored_url(variant_key(base, width))  # a bad key logs and shows the fallback


def stored_url(key: str | None) -> str | None:
    """URL of any stored object (a VOD's thumbnail, say), or None."""
    if not key:
        return None
    try:
        return _storage().url(key)
    except Exception:
        log.warning("no URL for %s", key, exc_info=True)
        return None


def avatar_url(user: User, size: str = "md") -> str | None:
    """The avatar a template shows at `size` (sm, md, lg, xl): the small variant up to 64 px."""
    return picture_url(user.profile, "avatar", 128 if size in ("sm", "md") else 512)


def set_picture(user: User, kind: str, data: bytes) -> str:
    """Store every variant of an upload and point the profile at it; the old upload is deleted.

    Raises PictureError, with nothing stored or changed, when the upload is refused.
    """
    spec = KINDS[kind]
    variants = clean_variants(data, max_bytes(current_app.config), spec.sizes)
    encoded = [(w, jpeg) for (w, _), jpeg in zip(spec.sizes, variants)]
    digest = hashlib.sha256(encoded[0][1]).hexdigest()[:16]
    base = f"profiles/{user.id}/{kind}-{digest}"
    storage = _storage()
    for width, jpeg in encoded:
        storage.put_bytes(variant_key(base, width), jpeg, "image/jpeg")
    profile = user.profile
    old = getattr(profile, spec.column)
    setattr(profile, spec.column, base)
    if kind == "background":
        profile.theme_background = "image"
    db.session.commit()
    if old and old != base:
        _delete(old, spec)
    log.info("user %s: new %s %s", user.id, kind, base)
    return base


def remove_picture(user: User, kind: str) -> bool:
    """Go back to the default look. False when there was nothing to remove."""
    spec = KINDS[kind]
    profile = user.profile
    old = getattr(profile, spec.column)
    if not old:
        return False
    setattr(profile, spec.column, None)
    if kind == "background" and profile.theme_background == "image":
        profile.theme_background = "plain"
    db.session.commit()
    _delete(old, spec)
    log.info("user %s: %s removed", user.id, kind)
    return True


def _delete(base: str, spec: PictureKind) -> None:
    storage = _storage()
    for width, _ in spec.sizes:
        storage.delete(variant_key(base, width))


__all__ = ["KINDS", "PictureError", "avatar_url", "picture_url",
           "remove_picture", "set_picture"]
