"""A VOD's objects (playlists, segments, posters, the MP4), served to whoever may watch the VOD
(`app.vods.access.can_view_vod`).

Browsers fetch a VOD's objects at `/vods/<session id>/<name>`, the same path as their keys. nginx
asks `GET /internal/vod-access` before each such request (auth_request, with the viewer's
cookies and the URI in X-Original-URI) and serves the object itself; without nginx (tests,
development) `GET /vods/<session id>/<name>` here does the same check and serves it. A mature
VOD's playlists (and MP4) are refused to viewers who have not passed its interstitial
(app.mature.gate): a 401 to nginx, which answers the viewer 403.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast
from urllib.parse import urlsplit

from flask import Response, abort, request, send_file
from flask_login import current_user
from sqlalchemy import select
from werkzeug.http import http_date

from ..extensions import db, limiter
from ..mature import gate
from ..models import VOD
from ..models.vod import vod_prefix
from ..storage.backends import BadKey, check_key, content_type_for, get_storage
from . import bp
from .access import can_view_vod

# Recordings may be private: no shared cache may keep them.
VOD_CACHE_CONTROL = "private"
# The header that hands nginx a signed URL of the allowed key (S3 only; see media/nginx.conf.j2).
SOURCE_HEADER = "X-Vod-Source"
# nginx fetches at once; a minute covers a slow store and clock skew.
SIGNED_FOR = 60
STREAM_CHUNK = 256 * 1024
# `/vods/<session id>/<name>`: a canonical id (no sign, no leading zero), then a key's rest.
_OBJECT_PATH = re.compile(r"^/vods/([1-9][0-9]{0,17})/(.+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def object_key(path: str | None) -> str | None:
    """The storage key a `/vods/<sid>/<name>` URI names (query dropped), or None if it names
    none: another path, `..`, percent-escapes or any character a key may not hold.

    nginx sends the raw request URI, so a key is accepted only in the one spelling nginx's own
    normalisation leaves unchanged: what is checked here is exactly what nginx serves.
    """
    if not path:
        return None
    match = _OBJECT_PATH.match(path.partition("?")[0])
    if match is None:
        return None
    try:
        return check_key(vod_prefix(int(match.group(1))) + match.group(2))
    except BadKey:
        return None


def vod_for_path(path: str | None) -> VOD | None:
    """The VOD whose objects `/vods/<sid>/...` names (by its storage prefix), or None."""
    key = object_key(path)
    if key is None:
        return None
    prefix = key[: key.index("/", len("vods/")) + 1]
    return db.session.scalar(select(VOD).where(VOD.storage_prefix == prefix))


def signed_source(storage, key: str) -> str:
    """The path and query of a short-lived signed GET of `key` on the S3 endpoint, for nginx to
    proxy to (it reaches the same endpoint as its `cascade_s3` upstream)."""
    url = urlsplit(storage.presigned_url(key, SIGNED_FOR))
    return f"{url.path}?{url.query}"


@bp.get("/internal/vod-access")
@limiter.exempt  # asked once per segment a viewer loads
def vod_access():
    """nginx's auth_request: 204 if this viewer may have the object X-Original-URI names, else
    403 (which nginx turns into a 404). Unknown and malformed paths are refused too."""
    original = request.headers.get("X-Original-URI", "")
    vod = vod_for_path(original)
    if not can_view_vod(vod, current_user):
        return Response(status=403, headers={"Cache-Control": "no-store"})
    if gate.vod_object_gated(vod, cast(str, object_key(original))):
        # A mature VOD's playlist to a viewer without the pass: nginx answers 403 (not 404).
        return Response(status=401, headers={"Cache-Control": "no-store"})
    response = Response(status=204, headers={"Cache-Control": "no-store"})
    storage = get_storage()
    if storage.name == "s3":
        # The VOD was found by this very key, so there is one.
        response.headers[SOURCE_HEADER] = signed_source(storage, cast(str, object_key(original)))
    return response


@bp.get("/vods/<int:session_id>/<path:name>")
@limiter.exempt
def vod_object(session_id: int, name: str):
    """A VOD object served by the app (tests, development; nginx serves /vods/ itself)."""
    key = object_key(f"/vods/{session_id}/{name}")
    vod = vod_for_path(f"/{key}") if key is not None else None
    if key is None or not can_view_vod(vod, current_user):
        abort(404)
    if gate.vod_object_gated(vod, key):
        abort(403)
    storage = get_storage()
    response = _local_object(storage, key) if storage.name == "local" else _s3_object(storage, key)
    response.headers["Cache-Control"] = VOD_CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _local_object(storage, key: str) -> Response:
    path = storage.path(key)
    if not path.is_file():
        abort(404)
    size = path.stat().st_size
    if request.range is not None and request.range.range_for_length(size) is None:
        # Answered here: werkzeug's own 416 would leave the opened file to the garbage collector
        # and lose its Content-Range in the site's error page.
        return _unsatisfiable(size)
    # conditional=True answers Range (206), If-None-Match and If-Modified-Since.
    return send_file(path, mimetype=content_type_for(key), conditional=True, etag=True)


def _unsatisfiable(size: int | None) -> Response:
    return Response(status=416, headers={"Content-Range": f"bytes */{size or 0}"})


def _s3_object(storage, key: str) -> Response:
    """Stream `key` from the bucket, a single byte range of it when asked (206)."""
    from botocore.exceptions import ClientError

    params = {"Bucket": storage.bucket, "Key": key}
    wanted = request.headers.get("Range", "")
    match = _RANGE.match(wanted.replace(" ", ""))
    # Several ranges, or a Range that depends on an If-Range we do not check, are answered
    # whole, as RFC 9110 allows.
    if match and any(match.groups()) and not request.headers.get("If-Range"):
        params["Range"] = wanted.replace(" ", "")
    if request.headers.get("If-None-Match"):
        params["IfNoneMatch"] = request.headers["If-None-Match"]
    try:
        answer = storage.client.get_object(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if str(error.get("Code")) in {"NoSuchKey", "404", "NotFound"} or status == 404:
            abort(404)
        if status == 304 or str(error.get("Code")) == "304":
            return Response(status=304)
        if str(error.get("Code")) == "InvalidRange" or status == 416:
            return _unsatisfiable(storage.size(key))
        raise
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(answer["ContentLength"])}
    if answer.get("ContentRange"):
        headers["Content-Range"] = answer["ContentRange"]
    if answer.get("ETag"):
        headers["ETag"] = answer["ETag"]
    if answer.get("LastModified"):
        headers["Last-Modified"] = http_date(answer["LastModified"])
    return Response(_chunks(answer["Body"]),
                    status=206 if answer.get("ContentRange") else 200,
                    mimetype=content_type_for(key), headers=headers, direct_passthrough=True)


def _chunks(body) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(STREAM_CHUNK)
    finally:
        body.close()
