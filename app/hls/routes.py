"""Media playlists (held for the part a reload asks for, or for the next part), preload-hinted
parts nginx could not find yet, and whatever nginx could not get from the bucket.

nginx serves /hls/ from disk (or, with STORAGE_BACKEND=s3, this host's disk and the bucket); it
hands the app every media playlist request (services.answer_playlist), a file request when the
file is missing, and with S3 any request the bucket did not answer (an outage:
media/nginx.conf.j2). The app answers them all from the same files or objects
(services.live_files). None of it once the session has ended (access.ended): its output is
then the private recording.
"""
from pathlib import Path

from flask import Response, current_app, request, send_file

from ..live import state as live_state
from . import access, bp, services

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
# Responses to blocking reloads could be cached briefly by a CDN keyed on the whole URL (the
# directives name a point in the stream, and any playlist at or past it is a right answer), but
# nothing caches in front of us and a player never repeats a directive URL, so "no-cache" costs
# nothing here and can never hand out a stale edge. Revisit with a CDN: a max-age of about one
# part target would let it collapse identical held requests.
NO_CACHE = "no-cache"
PART_CACHE = "public, max-age=31536000, immutable"  # a part never changes once written
GATED = "mature content: confirm on the channel page first\n"


def hls_root() -> Path:
    return live_state.hls_root(current_app.config)


def live_files() -> services.LiveFiles:
    return services.live_files(current_app.config, hls_root())


def listener() -> services.PartListener:
    """This process's shared subscriber (one per app, and so one per web process)."""
    found = current_app.extensions.get("cascade_hls_listener")
    if found is None:
        found = current_app.extensions.setdefault(
            "cascade_hls_listener", services.PartListener(current_app.config["REDIS_URL"]))
    return found


def _text(body: str, status: int, mimetype: str = "text/plain") -> Response:
    response = Response(body, status=status, mimetype=mimetype)
    response.headers["Cache-Control"] = NO_CACHE
    return response


@bp.route("/<internal_name:name>/<rung:rung>/index.m3u8")
def media_playlist(name: str, rung: str):
    if access.ended(name):
        return _text("no such playlist\n", 404)
    if access.gated(name):
        return _text(GATED, 403)
    try:
        directives = services.parse_directives(request.args)
    except services.BadDirective as refusal:
        return _text(f"{refusal}\n", 400)
    answer = services.answer_playlist(live_files(), name, rung, directives, listener())
    return _text(answer.body, answer.status, PLAYLIST_TYPE if answer.status == 200 else "text/plain")


@bp.route(f"/<internal_name:name>/{services.MASTER}")
def master_playlist(name: str):
    if access.ended(name):
        return _text("no such playlist\n", 404)
    if access.gated(name):
        return _text(GATED, 403)
    answer = services.answer_master(live_files(), name)
    return _text(answer.body, answer.status, PLAYLIST_TYPE if answer.status == 200 else "text/plain")


@bp.route("/<internal_name:name>/<rung:rung>/<part_file:filename>")
def part(name: str, rung: str, filename: str):
    if access.ended(name):
        return _text(services.NO_PART.body, 404)
    found = services.hinted_part(live_files(), name, rung, filename, listener())
    if found.status != 200:
        return _text(found.body, found.status)
    if found.path is not None:
        response = send_file(found.path, mimetype="video/mp4", conditional=True)
    else:
        response = Response(found.data, mimetype="video/mp4")
    response.headers["Cache-Control"] = PART_CACHE
    return response
