"""Follow toggle, the Following page and the notifications page."""
from __future__ import annotations

from functools import wraps

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..channels.services import channel_or_404
from ..htmx import render_page_or_fragment, wants_fragment
from . import bp, services


@bp.app_template_global()
def is_following(channel) -> bool:
    return current_user.is_authenticated and services.is_following(current_user.id, channel.id)


@bp.app_template_global()
def follower_count(channel) -> int:
    return services.follower_count(channel.id)


@bp.app_template_global()
def unread_notifications() -> int:
    return services.unread_count(current_user.id) if current_user.is_authenticated else 0


def login_required_htmx(view):
    """Like login_required, but an htmx request is sent to the login page with HX-Redirect
    instead of having the login page swapped into the button."""
    @wraps(view)
    def wrapper(slug, *args, **kwargs):
        if not current_user.is_authenticated:
            login = url_for("auth.login", next=url_for("channels.show", slug=slug))
            if request.headers.get("HX-Request") == "true":
                response = make_response("", 401)
                response.headers["HX-Redirect"] = login
                return response
            return redirect(login, 303)
        return view(slug, *args, **kwargs)
    return wrapper


@bp.route("/c/<slug>/follow", methods=["POST", "DELETE"])
@login_required_htmx
def toggle(slug: str):
    channel = channel_or_404(slug)
    try:
        if request.method == "DELETE" or request.form.get("intent") == "unfollow":
            services.unfollow(current_user, channel)
        else:
            services.follow(current_user, channel)
    except services.FollowRefused as refusal:
        if wants_fragment():
            return render_template("follow/_button.html", channel=channel, error=str(refusal))
        flash(str(refusal), "error")
    if wants_fragment():
        response = make_response(render_template("follow/_button.html", channel=channel))
        response.headers.add("Vary", "HX-Request")
        return response
    return redirect(url_for("channels.show", slug=channel.slug), 303)


@bp.route("/following")
@login_required
def following():
    return render_template("follow/following.html", channels=services.following(current_user))


@bp.route("/notifications")
@login_required
def notifications():
    return render_page_or_fragment("notifications/index.html", "notifications/_list.html",
                                   notifications=services.recent_notifications(current_user.id))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    # The list posts the ids it showed as soon as it loads; the "Mark all read" button posts none.
    shown = request.form.getlist("id")
    if shown:
        if (len(shown) > services.NOTIFICATIONS_SHOWN
                or not all(services.is_notification_id(value) for value in shown)):
            abort(400)
        services.mark_shown_read(current_user.id, [int(value) for value in shown])
    else:
        services.mark_all_read(current_user.id)
    if wants_fragment():
        return render_page_or_fragment("notifications/index.html", "notifications/_list.html",
                                       notifications=services.recent_notifications(current_user.id),
                                       bell_oob=True)
    return redirect(url_for("follow.notifications"), 303)
