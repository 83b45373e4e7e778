"""Profile pages: /u/<username>, and its featured-channel card that refreshes while live."""
from flask import abort, make_response, redirect, render_template, url_for

from ..channels.services import channel_status
from ..htmx import wants_fragment
from . import bp, services
from .images import avatar_url, picture_url, stored_url
from .markdown import render_bio

# Avatars show in the header, chat and cards on every page; templates ask for them by user.
bp.add_app_template_global(avatar_url)
bp.add_app_template_global(picture_url, "profile_picture_url")
bp.add_app_template_global(stored_url)
bp.add_app_template_filter(render_bio, "bio_html")


def _visible_user(username: str):
    user = services.user_by_username(username)
    if user is None or user.disabled:
        abort(404)
    return user


def _public_donations(user) -> list:
    try:
        from .donations import public_donations
    except ImportError:  # the donations section arrives separately
        return []
    return public_donations(user)


@bp.route("/u/<username>")
def show(username: str):
    user = _visible_user(username)
    page = services.profile_page(user)
    featured = page.featured
    return render_template("profiles/show.html", user=user, page=page, channel=user.channel,
                           featured=featured, status=channel_status(featured) if featured else None,
                           donations=_public_donations(user))


@bp.route("/u/<username>/featured")
def featured(username: str):
    user = _visible_user(username)
    channel = services.featured_channel(user)
    if channel is None:
        abort(404)
    if not wants_fragment():
        return redirect(url_for("profiles.show", username=user.username), 303)
    response = make_response(render_template("profiles/_featured.html", user=user, featured=channel,
                                             status=channel_status(channel)))
    response.headers.add("Vary", "HX-Request")
    return response
