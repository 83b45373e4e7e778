"""Chat moderation actions: htmx POSTs from the chat panel that change state, then emit to the room."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..channels.services import channel_or_404
from ..extensions import db
from ..htmx import render_page_or_fragment, wants_fragment
from ..models import User, utcnow
from . import bp, services
from .services import ModerationError

UNDONE = {"untimeout": "{name} can chat again.", "unban": "{name} is unbanned.", "restore": "Message restored."}


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ModerationError("There is no such user.", 404)
    return user


def _result(text: str, ok: bool = True, status: int = 200, undo=None):
    # htmx swaps 2xx only, so refusals come back as 200 with the reason; plain clients get the status.
    if request.headers.get("HX-Request") == "true":
        status = 200
    return render_template("moderation/_result.html", text=text, ok=ok, undo=undo), status


def _run(action):
    """Run a chat action; it returns its outcome line, or (line, the logged action to offer Undo for)."""
    try:
        outcome = action()
        text, undo = outcome if isinstance(outcome, tuple) else (outcome, None)
        return _result(text, undo=undo)
    except ModerationError as error:
        db.session.rollback()
        return _result(error.message, ok=False, status=error.status)


@bp.route("/c/<slug>/chat/messages/<int:message_id>/delete", methods=["POST"])
@login_required
def delete_message(slug: str, message_id: int):
    channel = channel_or_404(slug)

    def action():
        services.delete_message(channel, current_user, message_id, request.form.get("reason", ""))
        return "Message deleted."
    return _run(action)


@bp.route("/c/<slug>/chat/users/<int:user_id>/timeout", methods=["POST"])
@login_required
def timeout(slug: str, user_id: int):
    channel = channel_or_404(slug)

    def action():
        target = _user(user_id)
        if request.form.get("minutes", "").strip():
            seconds = services.parse_timeout(request.form["minutes"], 60)
        else:
            seconds = services.parse_timeout(request.form.get("seconds"))
        logged = services.timeout_user(channel, current_user, target, seconds, request.form.get("reason", ""))
        return f"{target.username} is timed out for {services.chat.describe_duration(seconds)}.", logged
    return _run(action)


@bp.route("/c/<slug>/chat/users/<int:user_id>/ban", methods=["POST"])
@login_required
def ban(slug: str, user_id: int):
    channel = channel_or_404(slug)

    def action():
        target = _user(user_id)
        logged = services.ban_user(channel, current_user, target, request.form.get("reason", ""))
        return f"{target.username} is banned from this chat.", logged
    return _run(action)


@bp.route("/c/<slug>/chat/users/<int:user_id>/unban", methods=["POST"])
@login_required
def unban(slug: str, user_id: int):
    channel = channel_or_404(slug)

    def action():
        target = _user(user_id)
        kind = services.lift_restriction(channel, current_user, target, request.form.get("reason", ""))
        return f"{target.username} can chat again." if kind == "untimeout" else f"{target.username} is unbanned."
    return _run(action)


@bp.route("/c/<slug>/chat/clear", methods=["POST"])
@login_required
def clear(slug: str):
    channel = channel_or_404(slug)

    def action():
        services.clear_chat(channel, current_user)
        return "Chat cleared."
    return _run(action)


def _flag(name: str):
    if name not in request.form:
        return None
    return request.form.get(name) in ("1", "on", "true", "yes")


@bp.route("/c/<slug>/chat/modes", methods=["POST"])
@login_required
def modes(slug: str):
    """Change the chat modes present in the form; fields left out keep their value."""
    channel = channel_or_404(slug)
    form = request.form

    def action():
        domains = form.get("allowed_domains")
        followers_only, minutes = _flag("followers_only"), form.get("followers_min_minutes") or None
        if minutes == "off":  # the chat panel's one select turns the mode off or sets its minimum
            followers_only, minutes = False, None
        services.update_modes(
            channel, current_user,
            slow_seconds=form.get("slow_seconds"),
            followers_only=followers_only,
            followers_min_minutes=minutes,
            emote_only=_flag("emote_only"),
            link_policy=form.get("link_policy"),
            allowed_domains=domains.replace(",", "\n").splitlines() if domains is not None else None,
            automod_level=form.get("automod_level"),
        )
        return "Chat settings saved."
    return _run(action)


@bp.route("/c/<slug>/chat/held/<int:message_id>/<any(approve, deny):decision>", methods=["POST"])
@login_required
def review(slug: str, message_id: int, decision: str):
    channel = channel_or_404(slug)

    def action():
        services.review_held(channel, current_user, message_id, approve=decision == "approve")
        return "Message approved." if decision == "approve" else "Message denied."
    return _run(action)


@bp.route("/c/<slug>/chat/actions/<int:action_id>/undo", methods=["POST"])
@login_required
def undo(slug: str, action_id: int):
    channel = channel_or_404(slug)

    def action():
        done = services.undo(channel, current_user, action_id)
        return UNDONE[done.kind].format(name=done.target_user.username if done.target_user else "They")
    return _run(action)


@bp.route("/c/<slug>/chat/actions")
@login_required
def recent_actions(slug: str):
    """The moderator menu's recent actions (a fragment); the full history is the mod log page."""
    channel = channel_or_404(slug)
    if not wants_fragment():
        return redirect(url_for("moderation.log", slug=channel.slug))
    try:
        actions = services.recent_actions(channel, current_user)
    except ModerationError as error:
        abort(error.status)
    return render_page_or_fragment("moderation/_recent_actions.html", "moderation/_recent_actions.html",
                                   actions=actions, rendered=services.render_actions(channel, actions))


@bp.route("/c/<slug>/chat/users/<int:user_id>/card")
def user_card(slug: str, user_id: int):
    """Who a chatter is (for anyone); their timeouts and bans here and the tools (for channel staff)."""
    channel = channel_or_404(slug)
    try:
        card = services.user_card(channel, current_user, user_id)
    except ModerationError as error:
        abort(error.status)
    return render_page_or_fragment("moderation/user_card.html", "moderation/_user_card.html",
                                   channel=channel, card=card, now=utcnow(), how_long_ago=services.how_long_ago,
                                   describe_duration=services.chat.describe_duration)
