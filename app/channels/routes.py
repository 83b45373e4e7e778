"""The public channel page."""
from flask import make_response, render_template, request
from flask_login import current_user

from ..api.status import stream_state
from ..chat import services as chat
from ..security import embeddable
from ..streams.viewers import viewer_token
from . import bp, services
from .thumbnails import thumbnail_url

# Cards on every page show the channel's picture; templates ask for it by channel.
bp.add_app_template_global(thumbnail_url)
bp.add_app_template_global(viewer_token)  # the live player's page gives it its heartbeat's token


@bp.route("/c/<slug>")
def show(slug: str):
    channel = services.channel_or_404(slug)
    return render_template("channels/show.html", channel=channel,
                           status=services.channel_status(channel),
                           stream=stream_state(channel),
                           chat=chat.panel(channel, current_user))


@bp.route("/embed/<slug>")
def embed(slug: str):
    """The player alone, for other sites to frame; `?chat=1` adds the chat, read-only."""
    channel = services.channel_or_404(slug)
    with_chat = request.args.get("chat") == "1"
    response = make_response(render_template(
        "channels/embed.html", channel=channel, status=services.channel_status(channel),
        stream=stream_state(channel), with_chat=with_chat,
        chat=chat.panel(channel, None) if with_chat else None))
    return embeddable(response)
