"""Publish hooks. nginx-rtmp posts forms and renames the stream on a 3xx; SRS posts JSON and
wants `{"code": 0}`. Both arrive through nginx's loopback hook server, which adds the secret."""
import logging

from flask import abort, jsonify, request

from ..extensions import csrf
from ..streams import services as streams
from . import bp

log = logging.getLogger(__name__)


@bp.before_request
def require_secret():
    if not streams.hook_secret_ok(request.headers.get("X-Hook-Secret")):
        log.warning("hook %s refused: missing or wrong hook secret (from %s)", request.path,
                    request.remote_addr)
        abort(403)


def _ingest_pull_url() -> str | None:
    """Where live hosts pull this ingest server's streams: the URL up to the stream name, which
    nginx's hook server adds to every callback (media/nginx.conf.j2)."""
    prefix = request.headers.get("X-Ingest-Pull-Prefix", "")
    if prefix.startswith(("rtmp://", "rtmps://")) and "{" not in prefix and len(prefix) < 200:
        return prefix + "{name}"
    return None


def _refuse(reason: str, status: int = 403):
    log.info("publish refused: %s", reason)
    return jsonify(code=status, error=reason), status


@bp.route("/rtmp/publish", methods=["POST"])
@csrf.exempt
def rtmp_publish():
    if request.form.get("app", "live") != "live":
        return _refuse("unknown application")
    try:
        session = streams.go_live(request.form.get("name", ""), ingest="nginx",
                                  client_id=request.form.get("clientid"),
                                  ingest_url=_ingest_pull_url())
    except streams.PublishRefused as refusal:
        return _refuse(str(refusal))
    # A 3xx with a bare name makes nginx-rtmp rename the stream: from here on it is known by
    # the internal name only, so the key never reaches a path, a URL or a worker's command line.
    response = jsonify(code=0)
    response.status_code = 302
    response.headers["Location"] = session.internal_name
    return response


@bp.route("/rtmp/publish_done", methods=["POST"])
@csrf.exempt
def rtmp_publish_done():
    name = request.form.get("name", "")
    session = streams.session_by_name(name)
    if session is None:
        channel = streams.channel_for_key(name)  # nginx may report the name it was published under
        session = streams.open_session_for(channel) if channel else None
    client = request.form.get("clientid")
    if session is not None and not (client and session.client_id and client != session.client_id):
        streams.publisher_left(session)  # (a publisher the session no longer has leaves nothing)
    return jsonify(code=0)


@bp.route("/rtmp/update", methods=["POST"])
@csrf.exempt
def rtmp_update():
    """nginx-rtmp asks, every few seconds for each client on a stream, whether it may stay
    (`on_update`); any answer but 2xx drops it. It asks from the worker that holds the client, even
    one that a reload left draining, which this app's control API cannot reach: a publisher whose
    session is no longer live (stopped, or closed by reconciliation) is dropped this way, and OBS
    reconnects to where the stream is pulled."""
    if not streams.client_may_stay(request.form.get("name", ""), request.form.get("clientid")):
        return jsonify(code=403, error="this stream's session is over"), 403
    return jsonify(code=0)


@bp.route("/srs/publish", methods=["POST"])
@csrf.exempt
def srs_publish():
    body = request.get_json(silent=True) or {}
    if body.get("action") != "on_publish" or body.get("app") != "live":
        return _refuse("not an on_publish callback for the live app", 400)
    try:
        streams.go_live(body.get("stream", ""), ingest="srs", client_id=str(body.get("client_id", "")))
    except streams.PublishRefused as refusal:
        return _refuse(str(refusal))
    return jsonify(code=0)


@bp.route("/srs/unpublish", methods=["POST"])
@csrf.exempt
def srs_unpublish():
    body = request.get_json(silent=True) or {}
    channel = streams.channel_for_key(body.get("stream", ""))
    session = streams.open_session_for(channel) if channel else None
    if session is not None and session.client_id == str(body.get("client_id", "")):
        streams.publisher_left(session)
    return jsonify(code=0)
