"""Moderation: what owners, moderators and admins may do to a chat, each action logged and broadcast."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_request_context, render_template
from markupsafe import Markup
from sqlalchemy import func, select, update

from ..channels.access import can_manage_channel, is_channel_staff, is_moderator, is_staff_role, role_of
from ..chat import automod, links, terms
from ..chat import services as chat
from ..extensions import db
from ..models import (
    BlockedTerm,
    Channel,
    ChannelRole,
    ChatBan,
    ChatMessage,
    ChatSettings,
    Follow,
    ModerationAction,
    User,
    utcnow,
)

TIMEOUT_PRESETS = ((60, "1 min"), (600, "10 min"), (3600, "1 hour"), (86400, "24 hours"))
MAX_TIMEOUT = 14 * 86400
MAX_SLOW = 600
MAX_FOLLOW_MINUTES = 90 * 24 * 60
MAX_REASON = 500
MAX_MODERATORS = 50
MAX_TERMS = 500
MAX_DOMAINS = 100
LOG_PAGE = 50
RECENT_ACTIONS = 20
CARD_HISTORY = 5
# What undoing each kind of action logs; nothing else can be undone.
UNDO_KINDS = {"timeout": "untimeout", "ban": "unban", "delete": "restore"}
RESTRICTION_KINDS = ("timeout", "untimeout", "ban", "unban")


class ModerationError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def require_staff(channel: Channel, actor) -> str:
    """The actor's role, if they are channel staff (owner, admin, moderator); else refused."""
    role = role_of(channel, actor)
    if not is_staff_role(role):
        raise ModerationError("Only the channel's owner, its moderators and site admins can do that.", 403)
    return role


def require_manager(channel: Channel, actor) -> None:
    """Refused unless the actor manages the channel: its owner or a site admin."""
    if not can_manage_channel(channel, actor):
        raise ModerationError("Only the channel's owner can do that.", 403)


def _check_target(channel: Channel, actor, actor_role: str, target: User) -> None:
    if target.id == actor.id:
        raise ModerationError("You can't do that to yourself.")
    target_role = role_of(channel, target)
    if target_role == "owner":
        raise ModerationError("The channel's owner can't be timed out or banned in their own chat.", 403)
    if target_role == "admin" and actor_role != "admin":
        raise ModerationError("Site admins can't be timed out or banned by channel staff.", 403)
    if target_role == "moderator" and actor_role == "moderator":
        raise ModerationError("Moderators can't time out or ban other moderators; ask the owner.", 403)


def _reason(reason: str | None) -> str:
    reason = chat.clean_text(reason or "")
    if len(reason) > MAX_REASON:
        raise ModerationError(f"Keep the reason under {MAX_REASON} characters.")
    return reason


def _log(channel: Channel, actor, kind: str, *, target: User | None = None,
         message: ChatMessage | None = None, reason: str = "", seconds: int | None = None,
         expires_at=None) -> ModerationAction:
    action = ModerationAction(channel_id=channel.id, actor_id=actor.id, kind=kind,
                              target_user_id=target.id if target else None,
                              message_id=message.id if message else None, reason=reason,
                              duration_seconds=seconds, expires_at=expires_at)
    db.session.add(action)
    return action


def _notice(channel: Channel, text: str, kind: str) -> None:
    chat.emit("notice", {"text": text, "kind": kind}, to=chat.room(channel.id))


# --- messages -----------------------------------------------------------------------------------

def message_in(channel: Channel, message_id: int) -> ChatMessage:
    message = db.session.get(ChatMessage, message_id)
    if message is None or message.channel_id != channel.id:
        raise ModerationError("That message isn't in this chat.", 404)
    return message


def may_moderate_message(channel: Channel, actor, role: str | None, message: ChatMessage) -> bool:
    """Channel staff (`role`, from require_staff) may act on a message, but a moderator not on
    one from the channel's staff (its owner, fellow moderators, admins) unless it is their own."""
    return message.user_id == actor.id or role != "moderator" or not is_staff_role(role_of(channel, message.user))


def delete_message(channel: Channel, actor, message_id: int, reason: str = "") -> ChatMessage:
    role = require_staff(channel, actor)
    message = message_in(channel, message_id)
    reason = _reason(reason)
    if not may_moderate_message(channel, actor, role, message):
        raise ModerationError("Moderators can't delete messages from the owner or other staff.", 403)
    if message.state == "deleted":
        return message
    message.state = "deleted"
    message.deleted_at = utcnow()
    message.deleted_by_id = actor.id
    action = _log(channel, actor, "delete", target=message.user, message=message, reason=reason)
    db.session.commit()
    chat.emit("delete", {"id": message.id}, to=chat.room(channel.id))
    announce(channel, action)
    return message


def purge_messages(channel: Channel, actor, target: User) -> list[int]:
    """Remove the target's visible messages from the last day for every viewer."""
    since = utcnow() - timedelta(days=1)
    ids = list(db.session.scalars(
        select(ChatMessage.id).where(ChatMessage.channel_id == channel.id,
                                     ChatMessage.user_id == target.id,
                                     ChatMessage.state.in_(("visible", "held")),
                                     ChatMessage.created_at >= since)))
    if ids:
        db.session.execute(update(ChatMessage).where(ChatMessage.id.in_(ids))
                           .values(state="deleted", deleted_at=utcnow(), deleted_by_id=actor.id))
    return ids


def _broadcast_purge(channel: Channel, target: User, ids: list[int]) -> None:
    for message_id in ids:
        chat.emit("delete", {"id": message_id}, to=chat.room(channel.id))
    if ids:
        chat.emit("resolved", {"ids": ids}, to=chat.staff_room(channel.id))


def clear_chat(channel: Channel, actor) -> None:
    require_staff(channel, actor)
    settings = _settings_row(channel)
    settings.cleared_through_id = db.session.scalar(
        select(func.max(ChatMessage.id)).where(ChatMessage.channel_id == channel.id)) or 0
    action = _log(channel, actor, "clear")
    db.session.commit()
    chat.emit("clear", {}, to=chat.room(channel.id))
    _notice(channel, "Chat was cleared by a moderator.", "clear")
    announce(channel, action)


def review_held(channel: Channel, actor, message_id: int, approve: bool) -> ChatMessage:
    require_staff(channel, actor)
    message = message_in(channel, message_id)
    if message.state != "held":
        raise ModerationError("That message was already reviewed.", 409)
    if approve:
        message.state = "visible"
    else:
        message.state = "deleted"
        message.deleted_at = utcnow()
        message.deleted_by_id = actor.id
    action = _log(channel, actor, "approve" if approve else "deny", target=message.user, message=message)
    db.session.commit()
    announce(channel, action)
    chat.emit("resolved", {"ids": [message.id], "approved": approve}, to=chat.staff_room(channel.id))
    if approve:
        event = chat.payload(message, chat.render_message(message, channel, chat.settings_for(channel)))
        chat.emit("message", event, to=chat.room(channel.id))
    else:
        chat.emit("notice", {"text": "A moderator declined your message.", "kind": "denied"},
                  to=chat.user_room(channel.id, message.user_id))
    return message


# --- timeouts and bans ---------------------------------------------------------------------------

def parse_timeout(value, unit_seconds: int = 1) -> int:
    try:
        seconds = int(float(value) * unit_seconds)
    except (TypeError, ValueError):
        raise ModerationError("Give the timeout as a number.") from None
    if seconds < 1:
        raise ModerationError("A timeout lasts at least one second.")
    if seconds > MAX_TIMEOUT:
        raise ModerationError("A timeout lasts at most 14 days; ban the user instead.")
    return seconds


def _restrict(channel: Channel, actor, target: User, expires_at, reason: str) -> ChatBan:
    ban = db.session.scalar(select(ChatBan).where(ChatBan.channel_id == channel.id,
                                                  ChatBan.user_id == target.id))
    if ban is None:
        ban = ChatBan(channel_id=channel.id, user_id=target.id)
        db.session.add(ban)
    ban.expires_at = expires_at
    ban.reason = reason
    ban.created_by_id = actor.id
    ban.created_at = utcnow()
    return ban


def timeout_user(channel: Channel, actor, target: User, seconds: int, reason: str = "") -> ModerationAction:
    """Time the target out; returns the logged action (what Undo undoes)."""
    role = require_staff(channel, actor)
    _check_target(channel, actor, role, target)
    seconds = parse_timeout(seconds)
    reason = _reason(reason)
    expires_at = utcnow() + timedelta(seconds=seconds)
    _restrict(channel, actor, target, expires_at, reason)
    action = _log(channel, actor, "timeout", target=target, reason=reason, seconds=seconds, expires_at=expires_at)
    ids = purge_messages(channel, actor, target)
    db.session.commit()
    _broadcast_purge(channel, target, ids)
    text = f"You were timed out for {chat.describe_duration(seconds)}." + (f" Reason: {reason}" if reason else "")
    chat.emit("notice", {"text": text, "kind": "timed_out", "retry_after": seconds},
              to=chat.user_room(channel.id, target.id))
    announce(channel, action)
    return action


def ban_user(channel: Channel, actor, target: User, reason: str = "") -> ModerationAction:
    """Ban the target from this chat; returns the logged action (what Undo undoes)."""
    role = require_staff(channel, actor)
    _check_target(channel, actor, role, target)
    reason = _reason(reason)
    _restrict(channel, actor, target, None, reason)
    action = _log(channel, actor, "ban", target=target, reason=reason)
    ids = purge_messages(channel, actor, target)
    db.session.commit()
    _broadcast_purge(channel, target, ids)
    text = "You were banned from this chat." + (f" Reason: {reason}" if reason else "")
    chat.emit("notice", {"text": text, "kind": "banned"}, to=chat.user_room(channel.id, target.id))
    announce(channel, action)
    return action


def lift_restriction(channel: Channel, actor, target: User, reason: str = "") -> str:
    """Unban or end a timeout; returns "unban" or "untimeout"."""
    return _lift(channel, actor, target, reason).kind


def _lift(channel: Channel, actor, target: User, reason: str = "") -> ModerationAction:
    role = require_staff(channel, actor)
    _check_target(channel, actor, role, target)
    ban = chat.active_restriction(channel.id, target.id)
    if ban is None:
        raise ModerationError(f"{target.username} isn't timed out or banned here.", 409)
    kind = "unban" if ban.is_ban else "untimeout"
    db.session.delete(ban)
    action = _log(channel, actor, kind, target=target, reason=_reason(reason))
    db.session.commit()
    text = "You can chat again." if kind == "untimeout" else "You were unbanned. You can chat again."
    chat.emit("notice", {"text": text, "kind": kind}, to=chat.user_room(channel.id, target.id))
    announce(channel, action)
    return action


def restrictions(channel: Channel) -> list[ChatBan]:
    now = utcnow()
    rows = db.session.scalars(select(ChatBan).where(ChatBan.channel_id == channel.id)
                              .order_by(ChatBan.created_at.desc())).all()
    return [ban for ban in rows if ban.active_at(now)]


# --- modes and filters ---------------------------------------------------------------------------

def _settings_row(channel: Channel) -> ChatSettings:
    settings = chat.settings_for(channel)
    if settings not in db.session:
        db.session.add(settings)
    return settings


def _int_in(value, low: int, high: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ModerationError(f"{what} must be a whole number.") from None
    if not low <= number <= high:
        raise ModerationError(f"{what} must be between {low} and {high}.")
    return number


MODE_NOTICES = {
    "slow": lambda s: (f"Slow mode is on: one message every {chat.describe_duration(s.slow_seconds)}."
                       if s.slow_seconds else "Slow mode is off."),
    "followers_only": lambda s: (
        ("Followers-only mode is on" + (f" (followers of {chat.describe_duration(s.followers_min_minutes * 60)})"
                                        if s.followers_min_minutes else "") + ".")
        if s.followers_only else "Followers-only mode is off."),
    "emote_only": lambda s: "Emote-only mode is on." if s.emote_only else "Emote-only mode is off.",
    "link_policy": lambda s: {"allow": "Links are allowed.", "block": "Links are blocked.",
                              "allowlist": "Only links to approved sites are allowed."}[s.link_policy],
}


def update_modes(channel: Channel, actor, *, slow_seconds=None, followers_only=None,
                 followers_min_minutes=None, emote_only=None, link_policy=None,
                 allowed_domains=None, automod_level=None) -> ChatSettings:
    """Change any of the chat modes given (None leaves one as it is); validates all before saving."""
    require_staff(channel, actor)
    current = chat.settings_for(channel)
    changes: dict = {}
    if slow_seconds is not None:
        changes["slow_seconds"] = _int_in(slow_seconds, 0, MAX_SLOW, "Slow mode")
    if followers_only is not None:
        changes["followers_only"] = bool(followers_only)
    if followers_min_minutes is not None:
        changes["followers_min_minutes"] = _int_in(followers_min_minutes, 0, MAX_FOLLOW_MINUTES,
                                                   "Minimum follow time (minutes)")
    if emote_only is not None:
        changes["emote_only"] = bool(emote_only)
    if link_policy is not None:
        if link_policy not in links.LINK_POLICIES:
            raise ModerationError("Choose allow, block or allowlist for links.")
        changes["link_policy"] = link_policy
    if allowed_domains is not None:
        domains = []
        for raw in allowed_domains:
            if not raw.strip():
                continue
            try:
                domain = links.validate_domain(raw)
            except ValueError as error:
                raise ModerationError(str(error)) from None
            if domain not in domains:
                domains.append(domain)
        if len(domains) > MAX_DOMAINS:
            raise ModerationError(f"List at most {MAX_DOMAINS} domains.")
        changes["allowed_domains"] = domains
    if automod_level is not None:
        if automod_level not in automod.AUTOMOD_LEVELS:
            raise ModerationError("Choose off, low or high for automod.")
        changes["automod_level"] = automod_level
    changed = {key: value for key, value in changes.items() if getattr(current, key) != value}
    if not changed:
        return current
    settings = _settings_row(channel)
    for key, value in changed.items():
        setattr(settings, key, value)
    kinds = []
    if "slow_seconds" in changed:
        kinds.append(("slow", settings.slow_seconds or None))
    if {"followers_only", "followers_min_minutes"} & changed.keys():
        kinds.append(("followers_only", settings.followers_min_minutes * 60 if settings.followers_only else None))
    if "emote_only" in changed:
        kinds.append(("emote_only", None))
    if {"link_policy", "allowed_domains"} & changed.keys():
        kinds.append(("link_policy", None))
    if "automod_level" in changed:
        kinds.append(("automod", None))
    logged = [_log(channel, actor, kind, reason=describe_mode(kind, settings), seconds=seconds)
              for kind, seconds in kinds]
    db.session.commit()
    chat.emit("settings", chat.settings_event(settings), to=chat.room(channel.id))
    for kind, _ in kinds:
        if kind in MODE_NOTICES:
            _notice(channel, MODE_NOTICES[kind](settings), kind)
    announce(channel, *logged)
    return settings


def describe_mode(kind: str, settings: ChatSettings) -> str:
    if kind == "automod":
        return f"Automod level: {settings.automod_level}"
    if kind == "link_policy" and settings.link_policy == "allowlist":
        return "Links allowed only to: " + (", ".join(settings.allowed_domains) or "no sites")
    return MODE_NOTICES[kind](settings)


def _require_list_keeper(channel: Channel | None, actor) -> None:
    """Channel staff keep a channel's list; only site admins keep the site-wide one (channel None)."""
    if channel is not None:
        require_staff(channel, actor)
    elif not (getattr(actor, "is_authenticated", False) and actor.is_admin):
        raise ModerationError("Only site admins can change the site-wide list.", 403)


def _on_list(channel: Channel | None):
    return BlockedTerm.channel_id.is_(None) if channel is None else BlockedTerm.channel_id == channel.id


def _store_term(channel: Channel | None, raw: str, created_by_id: int | None) -> BlockedTerm:
    """Validate and add a term to a list (no commit): refuses junk, duplicates and a full list."""
    try:
        term = terms.validate_term(raw)
    except ValueError as error:
        raise ModerationError(str(error)) from None
    if db.session.scalar(select(BlockedTerm.id).where(_on_list(channel), BlockedTerm.term == term)):
        raise ModerationError(f"“{term}” is already on the list.", 409)
    if (db.session.scalar(select(func.count(BlockedTerm.id)).where(_on_list(channel))) or 0) >= MAX_TERMS:
        raise ModerationError(f"The list holds at most {MAX_TERMS} terms.")
    row = BlockedTerm(channel_id=channel.id if channel else None, term=term, created_by_id=created_by_id)
    db.session.add(row)
    return row


def add_blocked_term(channel: Channel | None, actor, raw: str) -> BlockedTerm:
    """A term for one channel's chat, or (channel None, admins only) for every chat on the site."""
    _require_list_keeper(channel, actor)
    row = _store_term(channel, raw, actor.id)
    action = None
    if channel is not None:
        action = _log(channel, actor, "blocked_term", reason=f"Added blocked term “{row.term}”")
    db.session.commit()
    if channel is not None and action is not None:
        announce(channel, action)
    return row


def remove_blocked_term(channel: Channel | None, actor, term_id: int) -> None:
    _require_list_keeper(channel, actor)
    row = db.session.get(BlockedTerm, term_id)
    if row is None or row.channel_id != (channel.id if channel else None):
        raise ModerationError("That term isn't on this list.", 404)
    db.session.delete(row)
    action = None
    if channel is not None:
        action = _log(channel, actor, "blocked_term", reason=f"Removed blocked term “{row.term}”")
    db.session.commit()
    if channel is not None and action is not None:
        announce(channel, action)


def add_site_term_from_shell(raw: str) -> BlockedTerm:
    """`flask chat terms add`: the operator at the shell vouches for it, so no admin account."""
    row = _store_term(None, raw, None)
    db.session.commit()
    return row


def remove_site_term_from_shell(raw: str) -> str:
    """`flask chat terms remove`: by the term as listed, or as typed when it was added."""
    try:
        term = terms.validate_term(raw)
    except ValueError:
        term = raw.strip()
    row = db.session.scalar(select(BlockedTerm).where(_on_list(None), BlockedTerm.term == term))
    if row is None:
        raise ModerationError(f"“{term}” is not on the site-wide list.", 404)
    db.session.delete(row)
    db.session.commit()
    return term


def terms_for(channel: Channel | None) -> list[BlockedTerm]:
    return list(db.session.scalars(select(BlockedTerm).where(_on_list(channel)).order_by(BlockedTerm.term)))


# --- moderators ------------------------------------------------------------------------------------

def moderators(channel: Channel) -> list[ChannelRole]:
    return list(db.session.scalars(select(ChannelRole).where(ChannelRole.channel_id == channel.id)
                                   .order_by(ChannelRole.created_at)))


def user_by_name(username: str) -> User | None:
    username = (username or "").strip().lstrip("@")
    return db.session.scalar(select(User).where(User.username_lower == username.lower())) if username else None


def add_moderator(channel: Channel, actor, username: str) -> ChannelRole:
    require_manager(channel, actor)
    username = (username or "").strip().lstrip("@")
    if not username:
        raise ModerationError("Type the username of the person to make a moderator.")
    target = user_by_name(username)
    if target is None or target.disabled:
        raise ModerationError(f"There is no user called “{username[:30]}”.", 404)
    if target.id == channel.owner_id:
        raise ModerationError("You already moderate your own chat.")
    if is_moderator(channel.id, target.id):
        raise ModerationError(f"{target.username} is already a moderator.", 409)
    if len(moderators(channel)) >= MAX_MODERATORS:
        raise ModerationError(f"A channel can have at most {MAX_MODERATORS} moderators.")
    role = ChannelRole(channel_id=channel.id, user_id=target.id, role="moderator", granted_by_id=actor.id)
    db.session.add(role)
    action = _log(channel, actor, "add_moderator", target=target)
    db.session.commit()
    announce(channel, action)
    chat.emit("notice", {"text": "You are now a moderator here. Reload to see the moderator tools.",
                         "kind": "moderator"}, to=chat.user_room(channel.id, target.id))
    return role


def remove_moderator(channel: Channel, actor, user_id: int) -> User:
    require_manager(channel, actor)
    role = db.session.scalar(select(ChannelRole).where(ChannelRole.channel_id == channel.id,
                                                       ChannelRole.user_id == user_id))
    if role is None:
        raise ModerationError("That person isn't a moderator here.", 404)
    target = role.user
    db.session.delete(role)
    action = _log(channel, actor, "remove_moderator", target=target)
    db.session.commit()
    chat.drop_from_staff(channel, target)
    announce(channel, action)
    return target


# --- the log -------------------------------------------------------------------------------------

def mod_log(channel: Channel, before: int | None = None, limit: int = LOG_PAGE) -> list[ModerationAction]:
    query = select(ModerationAction).where(ModerationAction.channel_id == channel.id)
    if before is not None:
        query = query.where(ModerationAction.id < before)
    return list(db.session.scalars(query.order_by(ModerationAction.id.desc()).limit(limit)))


def log_message_texts(actions: list[ModerationAction]) -> dict[int, str]:
    """The text of each message the actions point at (deleted, approved or denied), by message id."""
    ids = {action.message_id for action in actions if action.message_id}
    if not ids:
        return {}
    rows = db.session.execute(select(ChatMessage.id, ChatMessage.text).where(ChatMessage.id.in_(ids)))
    return {row.id: row.text for row in rows}


# --- recent actions and undo -------------------------------------------------------------------------

def recent_actions(channel: Channel, actor, limit: int = RECENT_ACTIONS) -> list[ModerationAction]:
    """The channel's newest actions for the chat's moderator menu (staff only)."""
    require_staff(channel, actor)
    return mod_log(channel, limit=limit)


def undo_refusals(channel: Channel, actions: list[ModerationAction]) -> dict[int, str | None]:
    """Why each action can't be undone now, or None where Undo would work (three queries in all).

    A timeout or ban can be undone while it is the target's latest restriction here and still in
    force; a deleted message while it is still deleted and not behind a later clear."""
    refusals: dict[int, str | None] = {a.id: "That action can't be undone." for a in actions}
    restricting = [a for a in actions if a.kind in ("timeout", "ban") and a.target_user_id]
    if restricting:
        targets = {a.target_user_id for a in restricting}
        latest = dict(db.session.execute(
            select(ModerationAction.target_user_id, func.max(ModerationAction.id))
            .where(ModerationAction.channel_id == channel.id, ModerationAction.target_user_id.in_(targets),
                   ModerationAction.kind.in_(RESTRICTION_KINDS))
            .group_by(ModerationAction.target_user_id)).tuples().all())
        now = utcnow()
        bans = {ban.user_id: ban for ban in db.session.scalars(
            select(ChatBan).where(ChatBan.channel_id == channel.id, ChatBan.user_id.in_(targets)))}
        for action in restricting:
            ban = bans.get(action.target_user_id) if action.target_user_id else None
            if latest.get(action.target_user_id) != action.id:
                refusals[action.id] = "A later action replaced this one."
            elif ban is None or not ban.active_at(now):
                refusals[action.id] = ("That timeout is already over." if action.kind == "timeout"
                                       else "That ban was already lifted.")
            else:
                refusals[action.id] = None
    deletions = [a for a in actions if a.kind == "delete"]
    if deletions:
        cleared_through = chat.settings_for(channel).cleared_through_id
        states = dict(db.session.execute(
            select(ChatMessage.id, ChatMessage.state)
            .where(ChatMessage.id.in_({a.message_id for a in deletions if a.message_id}))).tuples().all())
        for action in deletions:
            state = states.get(action.message_id) if action.message_id else None
            if state is None:
                refusals[action.id] = "That message is no longer stored."
            elif state != "deleted":
                refusals[action.id] = "That message is already back."
            elif action.message_id <= cleared_through:  # type: ignore[operator]  # its message was found
                refusals[action.id] = "The chat was cleared since; that message stays hidden."
            else:
                refusals[action.id] = None
    return refusals


def undo(channel: Channel, actor, action_id: int) -> ModerationAction:
    """Undo a timeout (lift it), a ban (unban) or a deleted message (restore it); the undo is logged
    like any action and returned."""
    require_staff(channel, actor)
    action = db.session.get(ModerationAction, action_id)
    if action is None or action.channel_id != channel.id:
        raise ModerationError("That action isn't in this channel's log.", 404)
    refusal = undo_refusals(channel, [action])[action.id]
    if refusal:
        raise ModerationError(refusal, 409)
    # Both announce the undo, and with it the undone entry without its Undo.
    # undo_refusals found the deleted message, or the restricted user.
    if action.kind == "delete":
        assert action.message_id is not None
        return restore_message(channel, actor, action.message_id)
    assert action.target_user is not None
    return _lift(channel, actor, action.target_user, "Undo")


def restore_message(channel: Channel, actor, message_id: int) -> ModerationAction:
    """Put a deleted message back in the chat for everyone (the log keeps that it was deleted)."""
    role = require_staff(channel, actor)
    message = message_in(channel, message_id)
    if message.user_id != actor.id and role == "moderator" and is_staff_role(role_of(channel, message.user)):
        raise ModerationError("Moderators can't restore messages from the owner or other staff.", 403)
    if message.state != "deleted":
        raise ModerationError("That message isn't deleted.", 409)
    message.state = "visible"
    message.deleted_at = None
    message.deleted_by_id = None
    action = _log(channel, actor, "restore", target=message.user, message=message)
    db.session.commit()
    event = chat.payload(message, chat.render_message(message, channel, chat.settings_for(channel)))
    chat.emit("message", event, to=chat.room(channel.id))
    announce(channel, action)
    return action


def render_actions(channel: Channel, actions: list[ModerationAction]) -> dict[int, str]:
    """Each action as the recent-actions list shows it, rendered once for every moderator."""
    refusals = undo_refusals(channel, actions)
    texts = log_message_texts(actions)

    def render(a: ModerationAction) -> Markup:
        # Markup of a template's own (autoescaped) output.
        return Markup(render_template("moderation/_recent_action.html", a=a, undoable=refusals[a.id] is None,  # noqa: S704 - see above
                                      texts=texts, describe_duration=chat.describe_duration))
    if has_request_context():
        return {a.id: render(a) for a in actions}
    # A shell command or job acting as staff has no request; the entries need none of its parts.
    with current_app.test_request_context("/"):
        return {a.id: render(a) for a in actions}


def announce(channel: Channel, *actions: ModerationAction) -> None:
    """Send new (or changed) actions to the channel's staff room. A new restriction or undo also
    re-sends the earlier entries it makes undoable no longer, so no list offers a stale Undo."""
    changed = {a.id: a for a in actions}
    targets = {a.target_user_id for a in actions if a.kind in RESTRICTION_KINDS and a.target_user_id}
    messages = {a.message_id for a in actions if a.kind == "restore" and a.message_id}
    if targets or messages:
        recent = select(ModerationAction).where(ModerationAction.channel_id == channel.id)
        recent = recent.where(
            (ModerationAction.target_user_id.in_(targets) & ModerationAction.kind.in_(("timeout", "ban")))
            | (ModerationAction.message_id.in_(messages) & (ModerationAction.kind == "delete")))
        floor = db.session.scalar(select(ModerationAction.id).where(ModerationAction.channel_id == channel.id)
                                  .order_by(ModerationAction.id.desc()).offset(RECENT_ACTIONS).limit(1))
        if floor is not None:
            recent = recent.where(ModerationAction.id > floor)
        changed.update({a.id: a for a in db.session.scalars(recent)})
    for action_id, html in sorted(render_actions(channel, list(changed.values())).items()):
        chat.emit("modaction", {"id": action_id, "html": html}, to=chat.staff_room(channel.id))


# --- the user card --------------------------------------------------------------------------------------

@dataclass
class UserCard:
    user: User
    role: str  # the user's role in this channel
    follow: Follow | None
    staff_view: bool  # the viewer is channel staff: history and tools are shown
    timeouts: int = 0
    bans: int = 0
    history: list[ModerationAction] | None = None
    restriction: ChatBan | None = None


def user_card(channel: Channel, viewer, user_id: int) -> UserCard:
    """What anyone sees about a chatter (name, age, follow); channel staff also see their timeouts
    and bans in this channel. A missing or disabled account is a 404."""
    user = db.session.get(User, user_id)
    if user is None or user.disabled:
        raise ModerationError("There is no such user.", 404)
    card = UserCard(user=user, role=role_of(channel, user),
                    follow=db.session.get(Follow, (user.id, channel.id)),
                    staff_view=is_channel_staff(channel, viewer))
    if card.staff_view:
        theirs = (ModerationAction.channel_id == channel.id, ModerationAction.target_user_id == user.id,
                  ModerationAction.kind.in_(("timeout", "ban")))
        counts = dict(db.session.execute(select(ModerationAction.kind, func.count(ModerationAction.id))
                                         .where(*theirs).group_by(ModerationAction.kind)).tuples().all())
        card.timeouts, card.bans = counts.get("timeout", 0), counts.get("ban", 0)
        card.history = list(db.session.scalars(select(ModerationAction).where(*theirs)
                                               .order_by(ModerationAction.id.desc()).limit(CARD_HISTORY)))
        card.restriction = chat.active_restriction(channel.id, user.id)
    return card


def how_long_ago(moment: datetime, now: datetime) -> str:
    """An account's age in the largest whole unit: "today", "3 days ago", "5 months ago", "2 years ago"."""
    days = max(0, (now - moment).days)
    for unit, size in (("year", 365), ("month", 30), ("week", 7), ("day", 1)):
        if days >= size:
            count = days // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "today"
