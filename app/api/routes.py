"""JSON endpoints."""
import csv
import io
from dataclasses import asdict

from flask import Response, jsonify, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user

from ..analytics import collect, reports
from ..analytics import pages as analytics_pages
from ..channels import services as channels
from ..extensions import csrf, db, limiter
from ..ids import row_id
from ..models import VOD, StreamSession
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
        mature=bool(found.mature),
        content_labels=list(found.content_labels or []),  # keys of app.mature.labels.CONTENT_LABELS
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
        "mature": bool(vod.mature),
        "content_labels": list(vod.content_labels or []),
    } for vod in vods.vods_for(found, viewer, limit=vods.API_LIMIT)]
    return jsonify(items=items)


def _beat() -> dict:
    """The heartbeat's JSON (a final beat comes by navigator.sendBeacon, as text/plain)."""
    found = request.get_json(force=True, silent=True)
    return found if isinstance(found, dict) else {}


def _viewer_id() -> str:
    return str(_beat().get("viewer", ""))[:64]


@bp.route("/channels/<slug>/watch", methods=["POST"])
@csrf.exempt  # a heartbeat changes nothing a forged request could abuse; it is rate-limited instead
@limiter.limit("600 per minute")  # per address: a household or campus behind one NAT
# Per player: a beat every 10 s, plus one when it pauses, resumes after a pause or rebuffer, or leaves.
@limiter.limit("20 per minute", key_func=lambda: "viewer:" + _viewer_id(), scope="watch-viewer")
def watch(slug: str):
    """A player's heartbeat: says what it is doing (`state`: playing, starting, rebuffering,
    paused or ended) and answers with the channel's current status. It counts only with the
    page's viewer `token`, from a browser, within the per-address cap (app.streams.viewers).
    While Redis is away the beat is not counted and `viewers` is null; the player keeps the
    count it shows and still follows the stream (the status comes from the database)."""
    found = channels.channel_or_404(slug, even_if_disabled=True)
    beat = _beat()
    try:
        qoe = collect.parse(beat, _viewer_id())
    except collect.BadBeat as error:
        return jsonify(error="Bad request", message=str(error)), 400
    viewer, state = qoe.viewer, qoe.state
    session = channels.live_session(found)
    agent = request.headers.get("User-Agent", "")[:300]
    counted = viewers.token_is_for(str(beat.get("token") or ""), found.id) and viewers.is_browser(agent)
    if not counted:
        state = "ended"  # answered, never counted
    address = viewers.address_key(found.id, get_remote_address(), agent)
    count = viewers.heartbeat(found.id, viewer, session, state=state, address=address) if session else 0
    # `recorded` false (Redis away): the player keeps this beat's deltas and sends them with its next.
    recorded = not counted or session is None
    if counted and session is not None and address is not None and count is not None:
        recorded = collect.record(qoe, _watching(collect.live_subject(session.id), found.id, address, agent,
                                                 stream_session_id=session.id,
                                                 started_at=(session.playable_at or session.started_at).timestamp()),
                                  viewers=count) is not None
    body = asdict(channels.channel_status(found)) | asdict(stream_state(found))
    body["viewers"] = count
    body["recorded"] = recorded
    return jsonify(body)


def _watching(subject: str, channel_id: int, address: str, agent: str, **more) -> collect.Watching:
    """Who is watching, pseudonymously: a signed-in viewer by a per-channel key, anyone else by
    the daily address key; never the address itself."""
    key = collect.signed_in_key(channel_id, current_user.id) if current_user.is_authenticated else address
    return collect.Watching(subject=subject, channel_id=channel_id, viewer_key=key,
                            device=collect.device_class(agent), own_host=request.host, **more)


@bp.route("/vods/<int:vod_id>/watch", methods=["POST"])
@csrf.exempt  # as the live heartbeat: it changes nothing a forged request could abuse, and is rate-limited
@limiter.limit("600 per minute")
@limiter.limit("20 per minute", key_func=lambda: "viewer:" + _viewer_id(), scope="watch-viewer")
def vod_watch(vod_id: int):
    """A VOD player's heartbeat: what it did since its last beat (app.analytics.collect). Counts
    only with the VOD page's viewer `token`, from a browser. Answers 204, or 503 while Redis is
    away (the player sends the same deltas again with its next beat)."""
    vod = db.session.get(VOD, vod_id)
    if vod is None:
        return jsonify(error="Not found", message="no such VOD"), 404
    beat = _beat()
    try:
        qoe = collect.parse(beat, _viewer_id())
    except collect.BadBeat as error:
        return jsonify(error="Bad request", message=str(error)), 400
    agent = request.headers.get("User-Agent", "")[:300]
    if viewers.token_is_for_vod(str(beat.get("token") or ""), vod.id) and viewers.is_browser(agent):
        address = viewers.address_key(vod.channel_id, get_remote_address(), agent)
        recorded = address is not None and collect.record(
            qoe, _watching(collect.vod_subject(vod.id), vod.channel_id, address, agent,
                           vod_id=vod.id, vod_seconds=vod.duration_seconds or 0.0)) is not None
        if not recorded:  # Redis away: the player keeps this beat's deltas for its next
            return jsonify(error="Unavailable", message="not recorded; send it again with the next beat"), 503
    return "", 204


@bp.route("/channels/<slug>/analytics")
def channel_analytics(slug: str):
    """The channel's analytics for its owner: days (`days` or `from`/`to`) with totals, or one
    broadcast's minutes with its summary (`broadcast=<id>`); `format=csv` for a spreadsheet."""
    found = channels.channel_or_404(slug, even_if_disabled=True)
    if not current_user.is_authenticated:
        return jsonify(error="Unauthorized", message="sign in as the channel's owner"), 401
    if current_user.channel is None or current_user.channel.id != found.id:
        return jsonify(error="Forbidden", message="only the channel's owner sees its analytics"), 403
    wanted = request.args.get("format", "json")
    if wanted not in ("json", "csv"):
        return jsonify(error="Bad request", message="format must be json or csv"), 400
    if request.args.get("broadcast"):
        session = db.session.get(StreamSession, request.args.get("broadcast", type=row_id) or 0)
        if session is None or session.channel_id != found.id:
            return jsonify(error="Not found", message="no such broadcast of this channel"), 404
        rows = analytics_pages.rows_of(reports.minutes_of(collect.live_subject(session.id)),
                                       analytics_pages.MINUTE_COLUMNS)
        body = {"broadcast": session.id, "summary": session.summary or reports.broadcast_figures(session),
                "minutes": rows}
        name, columns = f"{found.slug}-broadcast-{session.id}", analytics_pages.MINUTE_COLUMNS
    else:
        try:
            first, last, _ = analytics_pages.parse_range(request.args)
        except ValueError as error:
            return jsonify(error="Bad request", message=str(error)), 400
        overview = reports.channel_overview(found.id, first, last)
        rows = analytics_pages.rows_of(overview.days, analytics_pages.DAY_COLUMNS)
        body = {"channel": found.slug, "from": first.date().isoformat(), "to": last.date().isoformat(),
                "totals": overview.totals, "days": rows}
        name, columns = f"{found.slug}-{first.date()}-{last.date()}", analytics_pages.DAY_COLUMNS
    if wanted == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                                 "Cache-Control": "private, no-store"})
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-store"
    return response
