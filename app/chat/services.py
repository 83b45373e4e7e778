"""Chat rules: who may say what where, and how a message is stored, rendered once and broadcast."""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, render_template
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..channels.access import STAFF_ROLES, is_staff_role, role_of
from ..channels.services import channel_by_slug
from ..extensions import db, get_redis, socketio
from ..ids import MAX_ROW_ID
from ..metrics.registry import CHAT_MESSAGES
from ..models import (
    BlockedTerm,
    Channel,
    ChatBan,
    ChatMessage,
    ChatMute,
    ChatSettings,
    Follow,
    StreamSession,
    User,
    utcnow,
)
from . import automod, formatting, limits, policy

log = logging.getLogger("app.chat")

NAMESPACE = "/chat"
HISTORY_SIZE = 50
BACKLOG_LIMIT = 200
MAX_LENGTH = 500
BADGE_LABELS = {"owner": "Streamer", "admin": "Staff", "moderator": "Mod"}
UNAVAILABLE = "Chat is unavailable right now, so your message was not sent. Try again in a moment."

# Control and format characters (bidi overrides, zero-width joiners used to dodge filters...)
# are dropped; line breaks become spaces.
_WHITESPACE = re.compile(r"\s+")
# Combining marks kept on one base character: Vietnamese (NFD), Devanagari and Thai need two,
# a keycap (digit, VS16, U+20E3) two, Tibetan stacks three; "Zalgo" text piles up dozens so the
# line overflows its neighbours, and everything past the cap is dropped.
MAX_MARKS_PER_BASE = 3
# Letters and symbols that draw nothing: the Default_Ignorable_Code_Point letters of Unicode's
# DerivedCoreProperties (the Hangul fillers, which unicodedata files under Lo) and the blank
# braille cell. Control, format and whitespace characters are told apart by their category.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")


class ChatRefused(Exception):
    """A send or join the server will not carry out, with a reason the person can act on."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def as_event(self) -> dict:
        event: dict[str, str | float] = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            event["retry_after"] = round(self.retry_after, 1)
        return event


def room(channel_id: int) -> str:
    return f"chat:{channel_id}"


def staff_room(channel_id: int) -> str:
    return f"chat:{channel_id}:staff"


def user_room(channel_id: int, user_id: int) -> str:
    return f"chat:{channel_id}:user:{user_id}"


def emit(event: str, data: dict, to: str) -> None:
    """Send to a room on every web process (through the Redis message queue when configured)."""
    socketio.emit(event, data, namespace=NAMESPACE, to=to)


def _kept(ch: str) -> bool:
    if unicodedata.category(ch)[0] != "C" or ch in "\n\t":
        return True
    # The joiner inside family/profession emoji and the tag letters of subdivision flags.
    return ch == "\u200d" or "\U000e0020" <= ch <= "\U000e007f"


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Me")


def _cap_marks(text: str) -> str:
    kept, run = [], 0
    for ch in text:
        if _is_mark(ch):
            run += 1
            if run > MAX_MARKS_PER_BASE:
                continue
        elif unicodedata.category(ch) != "Cf":  # a joiner between marks still stacks them
            run = 0
        kept.append(ch)
    return "".join(kept)


def _visible(ch: str) -> bool:
    return not (ch.isspace() or ch in _BLANK or unicodedata.category(ch) in ("Cf", "Mn", "Me"))


def clean_text(text) -> str:
    """The text as stored and shown: no control or format tricks, at most MAX_MARKS_PER_BASE
    marks on a character, one space for any run of whitespace; "" when nothing visible is left."""
    if not isinstance(text, str):
        return ""
    text = _WHITESPACE.sub(" ", _cap_marks("".join(ch for ch in text if _kept(ch)))).strip()
    return text if any(_visible(ch) for ch in text) else ""


# --- roles (who is who: app.channels.access) ----------------------------------------------------

def badges_for(role: str) -> str:
    return role if role in STAFF_ROLES else ""


# Each staff socket's id, kept in Redis per channel and user: python-socketio lists a room's
# sockets only on the process that holds them, while a demotion may be handled on any process,
# and the message queue carries a leave_room for a socket id to whichever process has it.
STAFF_SOCKETS_TTL = 7 * 24 * 3600


def _staff_sockets_key(channel_id: int, user_id: int) -> str:
    return f"{limits.PREFIX}:staff-sockets:{channel_id}:{user_id}"


def remember_staff_socket(channel_id: int, user_id: int, sid: str) -> None:
    key = _staff_sockets_key(channel_id, user_id)
    try:
        pipe = get_redis().pipeline()
        pipe.sadd(key, sid)
        pipe.expire(key, STAFF_SOCKETS_TTL)
        pipe.execute()
    except RedisError as error:
        # Without Redis a demotion still reaches this process's sockets (see drop_from_staff).
        log.warning("staff socket not recorded: Redis unavailable (%s)", type(error).__name__)


def forget_staff_socket(channel_id: int, user_id: int, sid: str) -> None:
    try:
        get_redis().srem(_staff_sockets_key(channel_id, user_id), sid)
    except RedisError:
        pass  # a stale id only costs a leave_room that finds no socket


def sockets_here(room_name: str) -> list[str]:
    """The ids of this process's /chat sockets in a room (python-socketio sees no further)."""
    server = socketio.server  # type: ignore[attr-defined]  # Flask-SocketIO's stubs leave it out
    return [sid for sid, _ in server.manager.get_participants(NAMESPACE, room_name)]


def drop_from_staff(channel: Channel, user: User) -> None:
    """Take someone who is no longer staff here out of the staff room on every socket they have
    open, on every process, and tell their pages to drop the moderator tools."""
    role = role_of(channel, user)
    if is_staff_role(role):
        return  # still staff (a site admin): nothing to take away
    sids: set[str] = set()
    try:
        redis = get_redis()
        key = _staff_sockets_key(channel.id, user.id)
        sids = {sid.decode() for sid in redis.smembers(key)}
        redis.delete(key)
    except RedisError as error:
        log.warning("staff sockets of user %s not read: Redis unavailable (%s)", user.id,
                    type(error).__name__)
    # This process's own sockets are found without Redis too.
    sids.update(sockets_here(user_room(channel.id, user.id)))
    for sid in sids:
        socketio.server.leave_room(sid, staff_room(channel.id), namespace=NAMESPACE)  # type: ignore[attr-defined]
    emit("role", {"role": role}, to=user_room(channel.id, user.id))
    emit("notice", {"text": "You are no longer a moderator here.", "kind": "moderator"},
         to=user_room(channel.id, user.id))


def drop_from_every_staff_room(user_id: int, *, disconnect: bool = False) -> int:
    """Take every open staff socket of `user_id`, in every channel and on every process, out of
    its staff room: the logins that opened them have ended (sign out everywhere, a password
    change or reset), or the account is going (`disconnect=True`: suspended or deleted, whose
    sockets are closed altogether). Sockets are not tied to a login, so the page that is still
    signed in loses the staff room too; it gets it back by joining again (reloading). How many
    sockets were dropped."""
    pattern = _staff_sockets_key(0, user_id).replace(":0:", ":*:", 1)
    dropped = 0
    try:
        redis = get_redis()
        keys = list(redis.scan_iter(match=pattern))
        for key in keys:
            channel_id = int(key.decode().rsplit(":", 2)[-2])
            for sid in {sid.decode() for sid in redis.smembers(key)}:
                socketio.server.leave_room(sid, staff_room(channel_id), namespace=NAMESPACE)  # type: ignore[attr-defined]
                if disconnect:
                    socketio.server.disconnect(sid, namespace=NAMESPACE)  # type: ignore[attr-defined]
                dropped += 1
            emit("notice", {"text": "You were signed out: reload the page to moderate again.",
                            "kind": "moderator"}, to=user_room(channel_id, user_id))
        if keys:
            redis.delete(*keys)
    except RedisError as error:
        log.warning("staff sockets of user %s not dropped: Redis unavailable (%s)", user_id,
                    type(error).__name__)
    return dropped


# --- settings and restrictions ------------------------------------------------------------------

def settings_for(channel: Channel) -> ChatSettings:
    """The channel's chat settings; defaults (not yet saved) when it has never changed them."""
    settings = db.session.get(ChatSettings, channel.id)
    if settings is None:
        settings = ChatSettings(channel_id=channel.id, slow_seconds=0, followers_only=False,
                                followers_min_minutes=0, emote_only=False, link_policy="allow",
                                allowed_domains=[], automod_level="low", cleared_through_id=0)
    return settings


def settings_event(settings: ChatSettings) -> dict:
    """The modes viewers see in the chat header."""
    return {
        "slow_seconds": settings.slow_seconds,
        "followers_only": settings.followers_only,
        "followers_min_minutes": settings.followers_min_minutes,
        "emote_only": settings.emote_only,
        "link_policy": settings.link_policy,
    }


def blocked_terms(channel_id: int) -> tuple[str, ...]:
    rows = db.session.scalars(
        select(BlockedTerm.term).where(
            (BlockedTerm.channel_id == channel_id) | (BlockedTerm.channel_id.is_(None)))
        .order_by(BlockedTerm.id)
    )
    return tuple(rows)


def policy_for(channel: Channel, settings: ChatSettings) -> policy.ChatPolicy:
    return policy.ChatPolicy(
        blocked_terms=blocked_terms(channel.id),
        link_policy=settings.link_policy,
        allowed_domains=tuple(settings.allowed_domains or ()),
        automod_level=settings.automod_level,
        emote_only=settings.emote_only,
    )


def active_restriction(channel_id: int, user_id: int) -> ChatBan | None:
    ban = db.session.scalar(
        select(ChatBan).where(ChatBan.channel_id == channel_id, ChatBan.user_id == user_id)
    )
    if ban is not None and ban.active_at(utcnow()):
        return ban
    return None


def restriction_refusal(ban: ChatBan) -> ChatRefused:
    if ban.is_ban:
        return ChatRefused("banned", "You are banned from this chat."
                           + (f" Reason: {ban.reason}" if ban.reason else ""))
    assert ban.expires_at is not None  # a timeout ends
    left = max(1.0, (ban.expires_at - utcnow()).total_seconds())
    return ChatRefused("timed_out", f"You are timed out for {describe_duration(left)} more."
                       + (f" Reason: {ban.reason}" if ban.reason else ""), retry_after=left)


def describe_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def follow_refusal(channel: Channel, user: User, settings: ChatSettings) -> ChatRefused | None:
    follow = db.session.get(Follow, (user.id, channel.id))
    if follow is None:
        return ChatRefused("followers_only", "This chat is for followers only. Follow the channel to chat.")
    needed = timedelta(minutes=settings.followers_min_minutes)
    followed_for = utcnow() - follow.created_at
    if followed_for < needed:
        left = (needed - followed_for).total_seconds()
        return ChatRefused("followers_only",
                           f"This chat is for followers of at least {describe_duration(needed.total_seconds())}. "
                           f"You can chat in {describe_duration(left)}.", retry_after=left)
    return None


# --- rendering ---------------------------------------------------------------------------------

def render_message(message: ChatMessage, channel: Channel, settings: ChatSettings) -> str:
    """The one HTML fragment every viewer inserts; per-viewer tools are shown by CSS."""
    # Staff (the senders with badges) may post any link, so theirs are always clickable.
    link_policy = "allow" if message.badges else settings.link_policy
    body = formatting.render_text(message.text, link_policy=link_policy,
                                  allowed_domains=tuple(settings.allowed_domains or ()))
    badges = [b for b in (message.badges or "").split(",") if b]
    return render_template("chat/_chat_message.html", message=message, body=body, badges=badges,
                           badge_labels=BADGE_LABELS, slug=channel.slug)


def held_payload(message: ChatMessage, channel: Channel) -> dict:
    """A held message as the review queue shows it to the channel's staff."""
    event = payload(message, render_template("chat/_held_message.html", message=message,
                                             slug=channel.slug))
    event["flags"] = [f for f in (message.flags or "").split(",") if f]
    return event


def payload(message: ChatMessage, html: str) -> dict:
    user = message.user
    return {
        "id": message.id,
        "html": html,
        "user": user.username,
        "user_id": user.id,
        "name": user.display_name,
        "badges": [b for b in (message.badges or "").split(",") if b],
        "text": message.text,
        "ts": message.created_at.isoformat(),
    }


def awaiting_erasure():
    """The ids of accounts whose owner asked to delete them and that wait out the grace. Their
    lines leave every chat (and VOD replay) at once, as their pages do, though the rows stay
    until the purge: cancelling within the grace brings them back."""
    return select(User.id).where(User.erasure_pending)


def history(channel: Channel, *, after: int | None = None, limit: int = HISTORY_SIZE,
            state: str = "visible") -> list[ChatMessage]:
    """Visible messages since the last clear: the newest `limit`, or those after a message id."""
    settings = settings_for(channel)
    query = select(ChatMessage).where(ChatMessage.channel_id == channel.id,
                                      ChatMessage.state == state,
                                      ChatMessage.id > settings.cleared_through_id,
                                      ~ChatMessage.user_id.in_(awaiting_erasure()))
    if after is not None:
        rows = db.session.scalars(query.where(ChatMessage.id > after)
                                  .order_by(ChatMessage.id).limit(limit)).all()
        return list(rows)
    rows = db.session.scalars(query.order_by(ChatMessage.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def history_payloads(channel: Channel, **kwargs) -> list[dict]:
    settings = settings_for(channel)
    return [payload(m, render_message(m, channel, settings)) for m in history(channel, **kwargs)]


def held_payloads(channel: Channel) -> list[dict]:
    return [held_payload(m, channel) for m in history(channel, state="held", limit=BACKLOG_LIMIT)]


def muted_user_ids(user) -> list[int]:
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(db.session.scalars(select(ChatMute.muted_user_id).where(ChatMute.user_id == user.id)))


# --- sending -----------------------------------------------------------------------------------

@dataclass
class Sent:
    message: ChatMessage
    event: dict
    held: bool


def _live_session_id(channel: Channel) -> int | None:
    return db.session.scalar(
        select(StreamSession.id).where(StreamSession.channel_id == channel.id,
                                       StreamSession.status != "ended")
        .order_by(StreamSession.id.desc()).limit(1)
    )


def _scorer():
    return automod.load_scorer(current_app.config.get("CHAT_TOXICITY_SCORER"))


def send_message(channel: Channel, user, raw_text) -> Sent:
    """Check, store, render and broadcast one message; raises ChatRefused with the reason.

    The message is acknowledged (returned) only after it is committed, so an acknowledged
    message is never lost; anything that fails before that refuses the send instead.
    """
    text = clean_text(raw_text)
    if not text:
        raise ChatRefused("empty", "Type a message first.")
    if len(text) > MAX_LENGTH:
        raise ChatRefused("too_long", f"Messages can be at most {MAX_LENGTH} characters.")
    role = role_of(channel, user)
    if role == "anonymous":
        raise ChatRefused("login_required", "Log in to chat.")
    if channel.owner.disabled:
        raise ChatRefused("unavailable", "This channel's chat is closed.")
    ban = active_restriction(channel.id, user.id)
    if ban is not None:
        raise restriction_refusal(ban)
    settings = settings_for(channel)
    staff = is_staff_role(role)
    config = current_app.config
    redis = get_redis()
    slow_claimed = False
    recent: list[str] = []
    try:
        if staff:
            redis.ping()  # exempt from pacing, but a message Redis cannot fan out is still refused
        else:
            if settings.followers_only:
                refusal = follow_refusal(channel, user, settings)
                if refusal:
                    raise refusal
            if settings.slow_seconds:
                wait = limits.take_slow_mode(redis, channel.id, user.id, settings.slow_seconds)
                if wait:
                    raise ChatRefused("slow_mode", f"Slow mode is on: you can send another message "
                                      f"in {describe_duration(wait)}.", retry_after=wait)
                slow_claimed = True
            wait = limits.take_token(redis, f"{channel.id}:{user.id}", config["CHAT_BURST"],
                                     config["CHAT_MESSAGES_PER_SECOND"])
            if wait:
                raise ChatRefused("rate_limited", "You're sending messages too quickly. "
                                  f"Wait {describe_duration(wait)}.", retry_after=wait)
            recent = limits.recent_texts(redis, channel.id, user.id)
        verdict = (policy.ALLOW if staff else
                   policy.check_message(text, policy_for(channel, settings), recent=recent,
                                        scorer=_scorer()))
        if verdict.action == "block":
            raise ChatRefused(verdict.code, verdict.reason)
    except ChatRefused:
        if slow_claimed:
            _release_slow_mode(redis, channel.id, user.id)
        raise
    except RedisError as error:
        log.warning("chat send refused: Redis unavailable (%s)", type(error).__name__)
        raise ChatRefused("unavailable", UNAVAILABLE) from None

    held = verdict.action == "hold"
    message = ChatMessage(channel_id=channel.id, user_id=user.id, text=text,
                          state="held" if held else "visible", badges=badges_for(role),
                          flags=",".join(verdict.flags)[:255] or None,
                          session_id=_live_session_id(channel))
    try:
        db.session.add(message)
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        if slow_claimed:
            _release_slow_mode(redis, channel.id, user.id)
        log.warning("chat send refused: database unavailable (%s)", type(error).__name__)
        raise ChatRefused("unavailable", UNAVAILABLE) from None

    CHAT_MESSAGES.labels("held" if held else "visible").inc()
    if held:
        event = held_payload(message, channel)
        emit("held", event, to=staff_room(channel.id))
    else:
        event = payload(message, render_message(message, channel, settings))
        emit("message", event, to=room(channel.id))
    if not staff:
        try:
            limits.remember_text(redis, channel.id, user.id, text)
        except RedisError:
            pass  # only the duplicate check misses this one
    return Sent(message, event, held)


def _release_slow_mode(redis, channel_id: int, user_id: int) -> None:
    try:
        redis.delete(f"{limits.PREFIX}:slow:{channel_id}:{user_id}")
    except RedisError:
        pass


# --- joining -----------------------------------------------------------------------------------

def join_state(channel: Channel, user, after: int | None) -> dict:
    """What a joining socket needs: its role, the modes, what it missed, and any restriction."""
    role = role_of(channel, user)
    settings = settings_for(channel)
    state = {"ok": True, "channel": channel.slug, "role": role, "settings": settings_event(settings)}
    if after is not None:
        state["messages"] = history_payloads(channel, after=after, limit=BACKLOG_LIMIT)
    if is_staff_role(role):
        state["held"] = held_payloads(channel)
    if role != "anonymous":
        ban = active_restriction(channel.id, user.id)
        if ban is not None:
            state["restriction"] = restriction_refusal(ban).as_event()
    return state


def channel_for_event(data) -> Channel:
    slug = data.get("channel") if isinstance(data, dict) else None
    if not isinstance(slug, str) or not slug or len(slug) > 64:
        raise ChatRefused("bad_request", "Say which channel's chat this is for.")
    channel = channel_by_slug(slug)
    if channel is None or channel.owner.disabled:
        raise ChatRefused("not_found", "There is no chat for that channel.")
    return channel


def parse_after(data) -> int | None:
    after = data.get("after") if isinstance(data, dict) else None
    if after is None:
        return None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_ROW_ID:
        raise ChatRefused("bad_request", "“after” must be a message id.")
    return after


def mute(user: User, target: User) -> None:
    if user.id == target.id:
        raise ChatRefused("bad_request", "You can't hide your own messages.")
    if db.session.get(ChatMute, (user.id, target.id)) is None:
        db.session.add(ChatMute(user_id=user.id, muted_user_id=target.id))
        db.session.commit()


def unmute(user: User, target: User) -> None:
    row = db.session.get(ChatMute, (user.id, target.id))
    if row is not None:
        db.session.delete(row)
        db.session.commit()


def panel(channel: Channel, user) -> dict:
    """What the channel page's chat panel renders: the last messages and the viewer's role."""
    role = role_of(channel, user)
    settings = settings_for(channel)
    messages = history(channel)
    restriction = None
    if role != "anonymous":
        ban = active_restriction(channel.id, user.id)
        restriction = restriction_refusal(ban).message if ban else None
    return {
        "role": role,
        "staff": is_staff_role(role),
        "settings": settings,
        # Both are our own templates' output (autoescaped), inserted as they were broadcast.
        "lines": [Markup(render_message(m, channel, settings)) for m in messages],  # noqa: S704 - see above
        "held": [Markup(e["html"]) for e in held_payloads(channel)] if is_staff_role(role) else [],  # noqa: S704 - likewise
        "last_id": messages[-1].id if messages else 0,
        "muted": muted_user_ids(user),
        "restriction": restriction,
        "max_length": MAX_LENGTH,
    }
