"""The public channel page."""
from flask import abort, render_template
from flask_login import current_user

from ..api.status import stream_state
from ..chat import services as chat

from . import bp, services
from .thumbnails import thumbnail_url

# Cards on every page show the channel's picture; templates ask for it by channel.
bp.add_app_template_global(thumbnail_url)


@bp.route("/c/<slug>")
def show(slug: str):
    channel = services.channel_by_slug(slug)
    if channel is None or channel.owner.disabled:
        abort(404)
    return render_template("channels/show.html", channel=channel,
                           status=services.channel_status(channel),
                           stream=stream_state(channel),
                           chat=chat.panel(channel, current_user))
