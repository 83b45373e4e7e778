"""VOD pages: the creator's video library (the VOD manager), a channel's videos, the watch page
and its chat replay, and downloads."""
from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import BadRequest, Forbidden

from ..channels import services as channels
from ..errors import with_message
from ..extensions import db
from ..htmx import render_page_or_fragment, wants_fragment
from ..mature import gate as mature_gate
from ..mature import services as mature_content
from ..mature.forms import VodContentForm
from ..models import VOD
from ..safety import takedown
from ..storage.backends import ObjectMissing
from ..streams.viewers import vod_viewer_token
from . import bp, services
from .access import can_manage_vods
from .forms import RenameForm

bp.add_app_template_filter(services.format_duration, "duration")
bp.add_app_template_filter(services.format_size, "filesize")
# VOD posters, sprites and playlists are fetched from /vods/<sid>/..., never from /media/.
bp.add_app_template_global(services.object_path, "vod_object_url")
bp.add_app_template_global(vod_viewer_token)  # the VOD player's heartbeat token

LIBRARY = "vods/library.html"


def _viewer():
    return current_user if current_user.is_authenticated else None


def _watchable(slug: str, vod_id: int):
    channel = channels.channel_or_404(slug, viewer=_viewer())
    vod = services.viewable_vod(channel, vod_id, _viewer())
    if vod is None:
        disabled = db.session.get(VOD, vod_id)
        if (disabled is not None and disabled.channel_id == channel.id and disabled.disabled_at is not None
                and (disabled.is_public or can_manage_vods(channel, _viewer()))):
            # 451 after a copyright notice (RFC 7725); 410 when moderators removed it.
            notice = takedown.notice_for_vod(disabled)
            abort(Response(render_template("safety/vod_disabled.html", channel=channel, notice=notice),
                           status=451 if notice else 410))
        abort(404)
    return channel, vod


# --- the creator's video library ----------------------------------------------------------------

def _render_library(fragment: str, status: int = 200, **context):
    channel = current_user.channel
    context.setdefault("vods", services.vods_for(channel, current_user))
    context.setdefault("processing", services.processing_notice(channel))
    return render_page_or_fragment(LIBRARY, fragment, status, channel=channel, **context)


def _own_vod(vod_id: int):
    vod = services.owned_vod(current_user.channel, vod_id)
    if vod is None:
        abort(404)
    return vod


def _render_row(vod, mode: str = "view", **context):
    """One VOD's row (htmx), or the whole library page with that row in `mode` (plain browsers)."""
    return _render_library("vods/_vod_row.html", vod=vod, focus_id=vod.id, focus_mode=mode, **context)


@bp.route("/dashboard/videos")
@login_required
def library():
    return _render_library("vods/_library.html")


@bp.route("/dashboard/videos/<int:vod_id>")
@login_required
def row(vod_id: int):
    """One row as it normally looks: where Cancel goes back to."""
    return _render_row(_own_vod(vod_id))


@bp.route("/dashboard/videos/processing")
@login_required
def processing():
    notice = services.processing_notice(current_user.channel)
    response = _render_library("vods/_processing.html", processing=notice)
    if notice is None:
        # The VOD is ready (or there was nothing to make one of): the library reloads itself to
        # show it. A failed job's notice stays, and asks no more.
        response.headers["HX-Trigger"] = "vods-changed"
    return response


@bp.route("/dashboard/videos/<int:vod_id>/visibility", methods=["POST"])
@login_required
def visibility(vod_id: int):
    vod = _own_vod(vod_id)
    try:
        services.set_visibility(vod, request.form.get("visibility", ""))
    except services.VodError as error:
        if not wants_fragment():
            raise with_message(BadRequest(), error.message) from None
        return _render_row(vod, error=error.message)
    if not wants_fragment():
        return redirect(url_for("vods.library"), 303)
    return _render_row(vod)


@bp.route("/dashboard/videos/<int:vod_id>/rename", methods=["GET", "POST"])
@login_required
def rename(vod_id: int):
    vod = _own_vod(vod_id)
    form = RenameForm(data={"title": vod.title or vod.display_title()})
    if form.validate_on_submit():
        try:
            services.rename(vod, form.title.data)
        except services.VodError as error:
            form.title.errors.append(error.message)
        else:
            if not wants_fragment():
                return redirect(url_for("vods.library"), 303)
            return _render_row(vod)
    return _render_row(vod, "rename", rename_form=form)


@bp.route("/dashboard/videos/<int:vod_id>/content", methods=["GET", "POST"])
@login_required
def content(vod_id: int):
    """The VOD's mature flag and content labels (it starts with its channel's)."""
    vod = _own_vod(vod_id)
    form = VodContentForm(data={"mature": vod.mature, "content_labels": list(vod.content_labels or [])})
    if form.validate_on_submit():
        try:
            mature_content.set_vod_content(vod, form.mature.data, form.content_labels.data or [])
        except mature_content.LabelError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            if not wants_fragment():
                return redirect(url_for("vods.library"), 303)
            return _render_row(vod)
    return _render_row(vod, "content", content_form=form)


@bp.route("/dashboard/videos/<int:vod_id>/delete", methods=["GET", "POST"])
@login_required
def delete(vod_id: int):
    vod = _own_vod(vod_id)
    if request.method == "GET":
        # A held video shows why instead of the confirmation it could not go through with.
        if (refusal := services.deletion_hold(vod)) is not None:
            return _render_row(vod, error=refusal)
        return _render_row(vod, "delete")
    title = vod.display_title()
    try:
        services.delete_vod(vod)
    except services.VodError as error:
        # htmx swaps the library (the form's target) only on a 2xx; a plain browser gets a 409.
        return _render_library("vods/_library.html", 200 if wants_fragment() else 409,
                               focus_id=vod.id, focus_mode="view", error=error.message)
    if not wants_fragment():
        flash(f"Deleted “{title}”.", "success")
        return redirect(url_for("vods.library"), 303)
    return _render_library("vods/_library.html", message=f"Deleted “{title}”.")


# --- channel pages -------------------------------------------------------------------------------

@bp.route("/c/<slug>/videos")
def channel_videos(slug: str):
    channel = channels.channel_or_404(slug, viewer=_viewer())
    pages = request.args.get("page", 1, type=int) or 1
    vods, more = services.page_of_vods(channel, _viewer(), pages)
    return render_page_or_fragment("vods/channel.html", "vods/_grid.html", channel=channel, vods=vods,
                                   more=more, pages=pages,
                                   can_manage=can_manage_vods(channel, _viewer()))


@bp.route("/c/<slug>/videos/<int:vod_id>")
def watch(slug: str, vod_id: int):
    channel, vod = _watchable(slug, vod_id)
    return render_template("vods/watch.html", channel=channel, vod=vod,
                           can_manage=can_manage_vods(channel, _viewer()))


@bp.route("/c/<slug>/videos/<int:vod_id>/chat")
def replay(slug: str, vod_id: int):
    _, vod = _watchable(slug, vod_id)
    try:
        if "before" in request.args:  # the context a seek lands in: the last messages before it
            messages = services.replay_context(vod, services.parse_instant(request.args["before"], "before"))
        else:
            after = services.parse_instant(request.args.get("after"), "after")
            until = services.parse_instant(request.args["until"], "until") if request.args.get("until") else None
            messages = services.replay_messages(vod, after, until)
    except services.VodError as error:
        return jsonify(error="Bad request", message=error.message), 400
    response = jsonify(items=services.replay_items(vod, messages))
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.route("/c/<slug>/videos/<int:vod_id>/download")
def download(slug: str, vod_id: int):
    _, vod = _watchable(slug, vod_id)
    if vod.mature and not mature_gate.viewer_passed(current_user):
        raise with_message(Forbidden(), "This video is for mature audiences: open its page and continue first.")
    try:
        chunks, size = services.open_download(vod)
    except ObjectMissing:
        abort(404)
    response = Response(chunks, mimetype="video/mp4", direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{services.download_name(vod)}"'
    if size is not None:
        response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "private, no-store"
    return response
