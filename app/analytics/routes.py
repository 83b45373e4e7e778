"""The creator's analytics pages, under /dashboard (the dashboard's blueprint): the channel over
a range of days, a broadcast's summary, a recording's retention, and the live tile htmx refreshes."""
from __future__ import annotations

from flask import abort, flash, render_template
from flask import request as flask_request
from flask_login import current_user, login_required

from ..channels import services as channels
from ..dashboard import bp
from ..extensions import db
from ..htmx import render_page_or_fragment
from ..models import VOD, StreamSession
from . import pages, reports

bp.add_app_template_global(pages.hours, "hours")
bp.add_app_template_global(pages.percent, "percent")
bp.add_app_template_global(lambda session: pages.hours(reports.broadcast_seconds(session)), "duration_text")


def _own(record):
    if record is None or record.channel_id != current_user.channel.id:
        abort(404)
    return record


@bp.route("/dashboard/analytics")
@login_required
def analytics():
    channel = current_user.channel
    try:
        first, last, days = pages.parse_range(flask_request.args)
        status = 200
    except ValueError as error:
        flash(f"Those dates could not be shown: {error}.", "error")
        (first, last, days), status = pages.parse_range({}), 400
    session = channels.live_session(channel)
    return render_template("analytics/index.html", channel=channel, first=first, last=last, days=days,
                           ranges=pages.RANGES, live=pages.live_tile(channel.id, session) if session else None,
                           session=session, **pages.overview(channel.id, first, last)), status


@bp.route("/dashboard/analytics/live")
@login_required
def analytics_live():
    """The live tile: htmx swaps it in every 10 s; without JavaScript it is a page of its own."""
    channel = current_user.channel
    session = channels.live_session(channel)
    return render_page_or_fragment("analytics/live.html", "analytics/_live.html", channel=channel, session=session,
                                   live=pages.live_tile(channel.id, session) if session else None)


@bp.route("/dashboard/analytics/broadcasts/<int:session_id>")
@login_required
def analytics_broadcast(session_id: int):
    session = _own(db.session.get(StreamSession, session_id))
    return render_template("analytics/broadcast.html", channel=current_user.channel, session=session,
                           **pages.broadcast(session))


@bp.route("/dashboard/analytics/vods/<int:vod_id>")
@login_required
def analytics_vod(vod_id: int):
    vod = _own(db.session.get(VOD, vod_id))
    return render_template("analytics/vod.html", channel=current_user.channel, vod=vod, **pages.vod(vod))
