"""JSON endpoints."""
from dataclasses import asdict

from flask import abort, jsonify

from ..channels import services as channels
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
