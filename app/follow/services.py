"""Follows, the Following page's order, and the "is live" notifications fanned out to followers."""
from __future__ import annotations

import logging
from typing import cast

from flask import current_app, has_request_context, render_template
from sqlalchemy import delete, exists, func, insert, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from ..extensions import db, socketio
from ..ids import row_id
from ..jobs import enqueue
from ..models import Channel, Follow, Notification, StreamSession, User, utcnow
from ..models.notification import KIND_LIVE
from ..streams import viewers

log = logging.getLogger(__name__)

NAMESPACE = "/notifications"
NOTIFICATIONS_SHOWN = 50
# Followers whose unread counts are read and pushed per query, so a big channel's fan-out never
# builds one enormous IN list.
PUSH_BATCH = 500


class FollowRefused(Exception):
    """A follow that the rules do not allow; the message is shown to the user."""


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


# --- follows ---------------------------------------------------------------------------------

def is_following(user_id: int, channel_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(Follow.follower_id == user_id,
                                                        Follow.channel_id == channel_id))))


def follower_count(channel_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Follow).where(Follow.channel_id == channel_id)) or 0


def follow(user: User, channel: Channel) -> None:
    """Follow a channel; following it again changes nothing."""
    if channel.owner_id == user.id:
        raise FollowRefused("You can't follow your own channel.")
    if is_following(user.id, channel.id):
        return
    db.session.add(Follow(follower_id=user.id, channel_id=channel.id))
    try:
        db.session.commit()
    except IntegrityError:  # a double click raced us to the same row
        db.session.rollback()


def unfollow(user: User, channel: Channel) -> None:
    """Stop following; unfollowing a channel you don't follow changes nothing."""
    db.session.execute(delete(Follow).where(Follow.follower_id == user.id, Follow.channel_id == channel.id))
    db.session.commit()


def following(user: User) -> list[tuple[Channel, int | None]]:
    """The channels `user` follows with their viewer counts (None while Redis is away): live
    first, busiest first, then the most recently live; channels of disabled accounts are left out."""
    channels = db.session.scalars(
        select(Channel).join(Follow, Follow.channel_id == Channel.id)
        .join(User, Channel.owner_id == User.id)
        .where(Follow.follower_id == user.id, User.disabled.is_(False))
    ).all()
    rows = [(channel, viewers.count(channel.id) if channel.is_live else 0) for channel in channels]
    never = 0.0

    def order(row):
        channel, watching = row
        last = channel.last_live_at.timestamp() if channel.last_live_at else never
        return (not channel.is_live, -(watching or 0), -last, channel.slug)

    return sorted(rows, key=order)


# --- notifications ---------------------------------------------------------------------------

def is_notification_id(value: str) -> bool:
    try:
        row_id(value)
    except ValueError:
        return False
    return True


def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def recent_notifications(user_id: int, limit: int = NOTIFICATIONS_SHOWN) -> list[Notification]:
    return list(db.session.scalars(
        select(Notification).where(Notification.user_id == user_id)
        .order_by(Notification.id.desc()).limit(limit)
    ))


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification read; returns how many were; tells the user's other tabs."""
    marked = cast(CursorResult, db.session.execute(
        update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )).rowcount
    db.session.commit()
    if marked:
        socketio.emit("notification", {"unread": 0}, namespace=NAMESPACE, to=user_room(user_id))
    return marked


def mark_shown_read(user_id: int, notification_ids: list[int]) -> int:
    """Mark read the notifications a page showed (the list marks itself once opened), leaving
    any that arrived since, and anyone else's, alone; tells the user's other pages the count."""
    if not notification_ids:
        return 0
    marked = cast(CursorResult, db.session.execute(
        update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None),
                                   Notification.id.in_(notification_ids))
        .values(read_at=utcnow())
    )).rowcount
    db.session.commit()
    if marked:
        socketio.emit("notification", {"unread": unread_count(user_id)}, namespace=NAMESPACE,
                      to=user_room(user_id))
    return marked


def announce_live(session: StreamSession) -> None:
    """A new session began (not a reconnect): hand the followers' notifications to a worker,
    since a big channel's fan-out should not hold up the publish hook."""
    if db.session.scalar(select(exists().where(Follow.channel_id == session.channel_id))):
        enqueue("workers.follow.notify_followers", session.id, job_id=f"notify-live-{session.id}")


def notify_followers(session_id: int) -> int:
    """Give every follower of the session's channel one "is live" notification and push their new
    unread counts. Safe to run twice: the second run inserts nothing. Returns the rows inserted."""
    session = db.session.get(StreamSession, session_id)
    if session is None:
        return 0
    channel = session.channel
    now = utcnow()
    already = exists().where(Notification.user_id == Follow.follower_id,
                             Notification.session_id == session.id)
    recipients = (
        select(Follow.follower_id, literal(channel.id), literal(session.id), literal(KIND_LIVE),
               literal(now, Notification.created_at.type))
        .join(User, User.id == Follow.follower_id)
        .where(Follow.channel_id == channel.id, Follow.follower_id != channel.owner_id,
               User.disabled.is_(False), ~already)
    )
    notified = db.session.scalars(
        insert(Notification)
        .from_select(["user_id", "channel_id", "session_id", "kind", "created_at"], recipients)
        .returning(Notification.user_id)
    ).all()
    db.session.commit()
    log.info("session %s: %s follower notifications", session.id, len(notified))
    push_live(channel, sorted(notified))
    return len(notified)


def push_live(channel: Channel, user_ids: list[int]) -> None:
    """Push each notified follower's unread count, and the toast, to their sockets."""
    toast = render_toast(channel)
    for start in range(0, len(user_ids), PUSH_BATCH):
        batch = user_ids[start:start + PUSH_BATCH]
        counts = db.session.execute(
            select(Notification.user_id, func.count()).where(Notification.user_id.in_(batch),
                                                              Notification.read_at.is_(None))
            .group_by(Notification.user_id)
        ).all()
        for user_id, unread in counts:
            socketio.emit("notification", {"unread": unread, "channel": channel.slug, "html": toast},
                          namespace=NAMESPACE, to=user_room(user_id))


def render_toast(channel: Channel) -> str:
    """The toast's HTML, rendered once for every follower. Workers have no request to build
    URLs from, so they borrow a blank one (the links are site-relative)."""
    if has_request_context():
        return render_template("notifications/_toast.html", channel=channel)
    with current_app.test_request_context("/"):
        return render_template("notifications/_toast.html", channel=channel)
