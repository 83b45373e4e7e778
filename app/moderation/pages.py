"""Moderation pages: a channel's chat settings (modes, terms, moderators, bans) and its mod log."""
from __future__ import annotations

from datetime import datetime

from flask import redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden

from ..channels.access import can_manage_channel, role_of
from ..channels.services import channel_or_404
from ..chat import services as chat
from ..errors import with_message
from ..extensions import db
from ..htmx import render_page_or_fragment, wants_fragment
from ..ids import row_id
from ..models import User, utcnow
from . import bp, services
from .forms import AUTOMOD_HELP, BlockedTermForm, ChatModesForm, ModeratorForm
from .services import ModerationError

LOG_PAGE = services.LOG_PAGE
SETTINGS_PAGE = "moderation/settings.html"


def _forbid(message: str):
    raise with_message(Forbidden(), message)


def _staff_channel(slug: str):
    """The channel named by the URL, if the signed-in user is its staff (owner, moderator, admin)."""
    channel = channel_or_404(slug)
    try:
        services.require_staff(channel, current_user)
    except ModerationError as error:
        _forbid(error.message)
    return channel


def _settings_url(channel) -> str:
    if channel.owner_id == current_user.id:
        return url_for("moderation.settings")
    return url_for("moderation.channel_settings", slug=channel.slug)


def _render(channel, fragment: str, **context):
    role = role_of(channel, current_user)
    can_manage = can_manage_channel(channel, current_user)
    settings = chat.settings_for(channel)
    context.setdefault("modes_form", ChatModesForm.for_settings(settings))
    context.setdefault("term_form", BlockedTermForm(formdata=None))
    context.setdefault("moderator_form", ModeratorForm(formdata=None))
    return render_page_or_fragment(
        SETTINGS_PAGE, fragment, channel=channel, role=role, can_manage=can_manage,
        settings=settings, automod_help=AUTOMOD_HELP, terms=services.terms_for(channel),
        site_terms_count=len(services.terms_for(None)),
        moderators=services.moderators(channel) if can_manage else [],
        restrictions=services.restrictions(channel), settings_url=_settings_url(channel),
        now=utcnow(), **context)


def _done(channel, fragment: str, **context):
    """After a change: a 303 back to the page for plain forms, the fresh fragment for htmx."""
    if not wants_fragment():
        return redirect(_settings_url(channel), 303)
    return _render(channel, fragment, **context)


# --- the settings page ----------------------------------------------------------------------------

@bp.route("/dashboard/chat", methods=["GET", "POST"])
@login_required
def settings():
    """The signed-in creator's own chat settings; a POST saves the chat modes form."""
    channel = current_user.channel
    if request.method == "POST":
        return _save_modes(channel)
    return _render(channel, SETTINGS_PAGE)


@bp.route("/c/<slug>/chat/settings")
@login_required
def channel_settings(slug: str):
    return _render(_staff_channel(slug), SETTINGS_PAGE)


@bp.route("/c/<slug>/chat/settings/modes", methods=["GET", "POST"])
@login_required
def chat_modes(slug: str):
    channel = _staff_channel(slug)
    if request.method == "POST":
        return _save_modes(channel)
    return _render(channel, "moderation/_modes.html")


def _save_modes(channel):
    form = ChatModesForm()
    if form.validate_on_submit():
        try:
            services.update_modes(
                channel, current_user, slow_seconds=form.slow_seconds(),
                followers_only=form.followers_only.data,
                followers_min_minutes=form.followers_min_minutes.data or 0,
                emote_only=form.emote_only.data, link_policy=form.link_policy.data,
                allowed_domains=form.domain_lines(), automod_level=form.automod_level.data)
        except ModerationError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            return _done(channel, "moderation/_modes.html", modes_notice="Chat modes saved.")
    return _render(channel, "moderation/_modes.html", modes_form=form)


@bp.route("/c/<slug>/chat/settings/terms", methods=["GET", "POST"])
@login_required
def blocked_terms(slug: str):
    channel = _staff_channel(slug)
    form = BlockedTermForm()
    if form.validate_on_submit():
        try:
            term = services.add_blocked_term(channel, current_user, form.term.data)
        except ModerationError as error:
            db.session.rollback()
            form.term.errors.append(error.message)
        else:
            return _done(channel, "moderation/_terms.html", terms_notice=f"“{term.term}” is now blocked.")
    return _render(channel, "moderation/_terms.html", term_form=form)


@bp.route("/c/<slug>/chat/settings/terms/<int:term_id>/remove", methods=["POST"])
@login_required
def remove_term(slug: str, term_id: int):
    channel = _staff_channel(slug)
    try:
        services.remove_blocked_term(channel, current_user, term_id)
    except ModerationError as error:
        db.session.rollback()
        return _render(channel, "moderation/_terms.html", terms_error=error.message)
    return _done(channel, "moderation/_terms.html", terms_notice="Term removed.")


def _managed_channel(slug: str):
    channel = _staff_channel(slug)
    try:
        services.require_manager(channel, current_user)
    except ModerationError as error:
        _forbid(error.message)
    return channel


@bp.route("/c/<slug>/chat/settings/moderators", methods=["GET", "POST"])
@login_required
def moderators(slug: str):
    channel = _managed_channel(slug)
    form = ModeratorForm()
    if form.validate_on_submit():
        try:
            role = services.add_moderator(channel, current_user, form.username.data)
        except ModerationError as error:
            db.session.rollback()
            form.username.errors.append(error.message)
        else:
            return _done(channel, "moderation/_moderators.html",
                         moderators_notice=f"{role.user.username} is now a moderator.")
    return _render(channel, "moderation/_moderators.html", moderator_form=form)


@bp.route("/c/<slug>/chat/settings/moderators/<int:user_id>/remove", methods=["POST"])
@login_required
def remove_moderator(slug: str, user_id: int):
    channel = _managed_channel(slug)
    try:
        target = services.remove_moderator(channel, current_user, user_id)
    except ModerationError as error:
        db.session.rollback()
        return _render(channel, "moderation/_moderators.html", moderators_error=error.message)
    return _done(channel, "moderation/_moderators.html",
                 moderators_notice=f"{target.username} is no longer a moderator.")


@bp.route("/c/<slug>/chat/settings/restrictions")
@login_required
def restrictions(slug: str):
    return _render(_staff_channel(slug), "moderation/_restrictions.html")


@bp.route("/c/<slug>/chat/settings/restrictions/<int:user_id>/lift", methods=["POST"])
@login_required
def lift_restriction(slug: str, user_id: int):
    channel = _staff_channel(slug)
    target = db.session.get(User, user_id)
    try:
        if target is None:
            raise ModerationError("There is no such user.", 404)
        kind = services.lift_restriction(channel, current_user, target)
    except ModerationError as error:
        db.session.rollback()
        return _render(channel, "moderation/_restrictions.html", restrictions_error=error.message)
    notice = (f"{target.username}'s timeout has ended." if kind == "untimeout"
              else f"{target.username} is unbanned.")
    return _done(channel, "moderation/_restrictions.html", restrictions_notice=notice)


# --- the mod log -----------------------------------------------------------------------------------

def ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            if unit == "day" and count > 30:
                return moment.strftime("%b %-d, %Y")
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


@bp.route("/c/<slug>/modlog")
@login_required
def log(slug: str):
    channel = _staff_channel(slug)
    before = request.args.get("before", type=row_id)  # anything else: the newest page
    rows = services.mod_log(channel, before, LOG_PAGE + 1)
    entries = rows[:LOG_PAGE]
    return render_page_or_fragment(
        "moderation/log.html", "moderation/_log_entries.html", channel=channel, entries=entries,
        more=len(rows) > LOG_PAGE, before=before, texts=services.log_message_texts(entries), now=utcnow(), ago=ago,
        describe_duration=chat.describe_duration, settings_url=_settings_url(channel))
