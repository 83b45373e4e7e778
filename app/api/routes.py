"""JSON endpoints."""
from dataclasses import asdict

from flask import abort, jsonify, request

from ..channels import services as channels
from ..extensions import csrf, limiter
from ..streams import viewers
from . import bp


@bp.route("/channels/<slug>")
def channel(slug: str):
    found = channels.channel_by_slug(slug)
    if found is None or found.owner.disabled:
        abort(404)
    body = asdict(channels.channel_status(found))
    body.update(
        owner=found.owner.username,
        category=found.category.name if found.category else None,
        tags=list(found.tags or []),
        live_since=found.live_since.isoformat() if found.live_since else None,
    )
    return jsonify(body)


def _viewer_id() -> str:
    return str((request.get_json(silent=True) or {}).get("viewer", ""))[:64]


@bp.route("/channels/<slug>/watch", methods=["POST"])
@csrf.exempt  # a heartbeat changes nothing a forged request could abuse; it is rate-limited instead
@limiter.limit("600 per minute")  # per address: a household or campus behind one NAT
@limiter.limit("8 per minute", key_func=lambda: "viewer:" + _viewer_id(), scope="watch-viewer")
def watch(slug: str):
    """A player's heartbeat: counts the viewer and answers with the channel's current status."""
    found = channels.channel_by_slug(slug)
    if found is None:
        abort(404)
    viewer = _viewer_id()
    if len(viewer) < 8:
        return jsonify(error="Bad request", message="viewer must be a random id of 8+ characters"), 400
    session = channels.live_session(found)
    count = viewers.heartbeat(found.id, viewer, session) if session else 0
    body = asdict(channels.channel_status(found))
    body["viewers"] = count
    return jsonify(body)
