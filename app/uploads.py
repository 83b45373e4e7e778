"""Picture uploads on the web side, the same for every picture form: the file field (its size
limit, PICTURE_MAX_MB, said on the form and checked in the browser too) and the per-account
rate limit (UPLOAD_RATE_LIMIT). The pictures themselves are made safe in app/pictures.py."""
from __future__ import annotations

import time

from flask import current_app
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms.validators import StopValidation

from .auth.limits import retry_phrase, seconds_until
from .extensions import address_key, limiter
from .pictures import ACCEPT_ATTRIBUTE, form_help, max_bytes, too_large_message


def _within_limit(form, field) -> None:
    """The file is no larger than PICTURE_MAX_MB (read at request time, so tests may change it)."""
    limit = max_bytes(current_app.config)
    stream = getattr(field.data, "stream", None)
    if stream is None:
        return
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    if size > limit:
        raise StopValidation(too_large_message(limit))


def picture_field(label: str) -> FileField:
    return FileField(label, validators=[FileRequired("Choose a picture to upload."), _within_limit])


def describe(field, help_text: str = "") -> None:
    """Say on the form what the field takes, and let the browser refuse too large a file before
    sending it (site.js reads data-max-bytes and data-too-large)."""
    limit = max_bytes(current_app.config)
    field.description = f"{form_help(limit)} {help_text}".strip()
    field.render_kw = {**(field.render_kw or {}), "accept": ACCEPT_ATTRIBUTE,
                       "data-max-bytes": limit, "data-too-large": too_large_message(limit)}


def _uploader() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return address_key()  # anonymous posts are sent to log in; they count per address


def _limited_message() -> str:
    breached = limiter.current_limit  # the one this request just went past
    wait = retry_phrase(seconds_until(breached.reset_at if breached else time.time() + 60))
    return f"You have uploaded a lot of pictures in a short time. Try again {wait}."


# Decorates every route that takes a picture: one count per account across all of them.
upload_limit = limiter.shared_limit(lambda: current_app.config["UPLOAD_RATE_LIMIT"], scope="picture-upload",
                                    key_func=_uploader, methods=["POST"],
                                    error_message=_limited_message)
