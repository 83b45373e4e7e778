"""Dashboard pages and the fragments htmx swaps into them."""
from flask import current_app, redirect, request, url_for
from flask_login import current_user, login_required

from ..channels import services as channels
from ..channels import thumbnails
from ..htmx import render_page_or_fragment, wants_fragment
from ..mature import gate
from ..streams import services as streams
from ..uploads import upload_limit
from . import bp
from .forms import ChannelInfoForm, ThumbnailForm
from .services import live_panel, page_extras, site_retention_days, update_channel_info


def _rtmp_url() -> str:
    host = current_app.config["PUBLIC_HOST"] or request.host.rsplit(":", 1)[0]
    return f"rtmp://{host}:{current_app.config['RTMP_PORT']}/live"


def _info_form(channel) -> ChannelInfoForm:
    form = ChannelInfoForm(title=channel.title, category=channel.category_id or 0,
                           tags=", ".join(channel.tags or []), mature=channel.mature,
                           content_labels=list(channel.content_labels or []),
                           record=channel.record, latency_mode=channel.latency_mode,
                           vod_retention_days=channel.vod_retention_days)
    form.set_category_choices(channels.categories())
    form.set_retention_default(site_retention_days())
    return form


def _render(fragment: str, status: int = 200, **context):
    channel = current_user.channel
    context.setdefault("form", _info_form(channel))
    context.setdefault("panel", live_panel(channel))
    context.setdefault("thumb_form", ThumbnailForm())
    if not wants_fragment():
        context = {**page_extras(channel, current_user), **context}
    return render_page_or_fragment("dashboard/index.html", fragment, status, channel=channel,
                                   rtmp_url=_rtmp_url(), **context)


@bp.route("/dashboard")
@login_required
def index():
    gate.keep_cookie_in_step(current_user)  # the preview plays a mature channel's playlists too
    return _render("dashboard/index.html")


@bp.route("/dashboard/stream-key", methods=["POST"])
@login_required
def rotate_key():
    new_key = streams.rotate_stream_key(current_user.channel)
    # The only time the key is ever shown: it is stored as a hash from here on.
    response = _render("dashboard/_stream_key.html", new_key=new_key)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/dashboard/channel", methods=["GET", "POST"])
@login_required
def channel_info():
    channel = current_user.channel
    form = _info_form(channel)
    editing = request.args.get("edit") == "1"
    if form.validate_on_submit():
        try:
            update_channel_info(channel, form.title.data, form.category.data or None, form.tags.data,
                                mature=form.mature.data, record=form.record.data,
                                latency_mode=form.latency_mode.data,
                                vod_retention_days=form.vod_retention_days.data,
                                content_labels=form.content_labels.data or [])
        except channels.ChannelError as error:
            getattr(form, error.field).errors.append(error.message)
            editing = True
        else:
            if not wants_fragment():
                return redirect(url_for("dashboard.index"), 303)
            editing = False
    elif form.is_submitted():
        editing = True
    return _render("dashboard/_channel_info.html", form=form, editing=editing)


@bp.route("/dashboard/live")
@login_required
def live_status():
    return _render("dashboard/_live_status.html")


@bp.route("/dashboard/live/stop", methods=["POST"])
@login_required
def stop_stream():
    stopped = streams.drop_publisher(current_user.channel)
    if not wants_fragment():
        return redirect(url_for("dashboard.index"), 303)
    message = "Your stream has stopped." if stopped else "Nothing is live right now, so there was nothing to stop."
    return _render("dashboard/_live_status.html", message=message)


@bp.route("/dashboard/live/go-live-again", methods=["POST"])
@login_required
def lift_stop():
    lifted = streams.lift_stop(current_user.channel)
    if not wants_fragment():
        return redirect(url_for("dashboard.index"), 303)
    message = ("Publishing is open again: start streaming in OBS." if lifted
               else "Publishing isn't blocked: you can go live from OBS at any time.")
    return _render("dashboard/_live_status.html", message=message)


@bp.route("/dashboard/thumbnail", methods=["GET", "POST"])
@login_required
@upload_limit
def thumbnail():
    form = ThumbnailForm()
    saved = False
    if form.validate_on_submit():
        try:
            thumbnails.set_custom_thumbnail(current_user.channel, form.picture.data.read())
        except thumbnails.ThumbnailError as error:
            form.picture.errors.append(str(error))
        else:
            if not wants_fragment():
                return redirect(url_for("dashboard.index"), 303)
            form, saved = ThumbnailForm(formdata=None), True
    return _render("dashboard/_thumbnail.html", thumb_form=form, saved=saved)


@bp.route("/dashboard/thumbnail/remove", methods=["POST"])
@login_required
def remove_thumbnail():
    thumbnails.remove_custom_thumbnail(current_user.channel)
    if not wants_fragment():
        return redirect(url_for("dashboard.index"), 303)
    return _render("dashboard/_thumbnail.html")
