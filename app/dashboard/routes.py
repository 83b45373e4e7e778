"""Dashboard pages and the fragments htmx swaps into them."""
from flask import current_app, redirect, request, url_for
from flask_login import current_user, login_required

from ..channels import services as channels
from ..htmx import render_page_or_fragment, wants_fragment
from . import bp
from .forms import ChannelInfoForm


def _rtmp_url() -> str:
    host = current_app.config["PUBLIC_HOST"] or request.host.rsplit(":", 1)[0]
    return f"rtmp://{host}:{current_app.config['RTMP_PORT']}/live"


def _info_form(channel) -> ChannelInfoForm:
    form = ChannelInfoForm(title=channel.title, category=channel.category_id or 0,
                           tags=", ".join(channel.tags or []), mature=channel.mature,
                           record=channel.record)
    form.set_category_choices(channels.categories())
    return form


def _render(fragment: str, status: int = 200, **context):
    channel = current_user.channel
    context.setdefault("form", _info_form(channel))
    return render_page_or_fragment("dashboard/index.html", fragment, status, channel=channel,
                                   rtmp_url=_rtmp_url(), **context)


@bp.route("/dashboard")
@login_required
def index():
    return _render("dashboard/index.html")


@bp.route("/dashboard/stream-key", methods=["POST"])
@login_required
def rotate_key():
    new_key = channels.rotate_stream_key(current_user.channel)
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
            channels.update_info(channel, form.title.data, form.category.data or None, form.tags.data,
                                 mature=form.mature.data, record=form.record.data)
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
