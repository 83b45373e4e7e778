"""JSON endpoints."""
from dataclasses import asdict

from flask import jsonify, request, url_for
from flask_login import current_user

from ..channels import services as channels
from ..extensions import csrf, limiter
from ..streams import viewers
from ..vods import services as vods
from . import bp
from .status import stream_state


@bp.route("/channels/<slug>")
def channel(slug: str):
    found = channels.channel_or_404(slug)
    body = asdict(channels.channel_status(found)) | asdict(stream_state(found))
    body.update(
        owner=found.owner.username,
        category=found.category.name if found.category else None,
        tags=list(found.tags or []),
        live_since=found.live_since.isoformat() if found.live_since else None,
    )
    return jsonify(body)


@bp.route("/channels/<slug>/vods")
def channel_vods(slug: str):
    """The channel's videos, newest first: private ones too for its owner (and admins)."""
    viewer = current_user if current_user.is_authenticated else None
    found = channels.channel_or_404(slug, viewer=viewer)
    items = [{
        "id": vod.id,
        "title": vod.display_title(),
        "duration": round(vod.duration_seconds or 0, 3),
        "visibility": vod.visibility,
        "created": vod.created_at.isoformat(),
        "started": vod.started_at.isoformat() if vod.started_at else None,
        "published": vod.published_at.isoformat() if vod.published_at else None,
        "hls_url": vods.master_path(vod),
        "poster_url": vods.object_path(vod.thumbnail_key),
        "url": url_for("vods.watch", slug=found.slug, vod_id=vod.id),
    } for vod in vods.vods_for(found, viewer, limit=vods.API_LIMIT)]
    return jsonify(items=items)


def _viewer_id() -> str:
    return str((request.get_json(silent=True) or {}).get("viewer", ""))[:64]


@bp.route("/channels/<slug>/watch", methods=["POST"])
@csrf.exempt  # a heartbeat changes nothing a forged request could abuse; it is rate-limited instead
@limiter.limit("600 per minute")  # per address: a household or campus behind one NAT
@limiter.limit("8 per minute", key_func=lambda: "viewer:" + _viewer_id(), scope="watch-viewer")
def watch(slug: str):
    """A player's heartbeat: counts the viewer and answers with the channel's current status.
    While Redis is away the beat is not counted and `viewers` is null; the player keeps the
    count it shows and still follows the stream (the status comes from the database)."""
    found = channels.channel_or_404(slug, even_if_disabled=True)
    viewer = _viewer_id()
    if len(viewer) < 8:
        return jsonify(error="Bad request", message="viewer must be a random id of 8+ characters"), 400
    session = channels.live_session(found)
    count = viewers.heartbeat(found.id, viewer, session) if session else 0
    body = asdict(channels.channel_status(found)) | asdict(stream_state(found))
    body["viewers"] = count
    return jsonify(body)
