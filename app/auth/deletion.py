"""Deleting an account: the one place that decides what goes with it. Trust and safety will
extend this (what is kept for how long, exports, reports); pages only ever call delete_account.

What goes today: the user row and, through the schema's own ON DELETE rules, everything that
belongs to it: profile, channel (with its sessions, VODs, chat settings and followers), logins,
follows, notifications, Top 8 slots, donation links, moderator roles, bans, and every chat line
the user wrote, in any channel, as Mastodon removes a deleted account's posts. Rows that only
mention the user (the mod log's actor and target, reports) keep their history with the
reference set to NULL ("a deleted account"). Stored objects (pictures, thumbnails, recordings)
no row refers to any more are removed by the hourly orphan sweep (app.vods.retention)."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select

from ..extensions import db
from ..models import ChatMessage, User, utcnow
from .services import check_current_password

log = logging.getLogger(__name__)


def delete_account(user: User) -> None:
    """Delete `user` and everything that belongs to them; their logins end with it."""
    from ..streams import services as streams  # a live channel first goes off air

    user_id = user.id
    channel = user.channel
    if channel is not None and streams.open_session_for(channel) is not None:
        streams.drop_publisher(channel)
    db.session.commit()  # nothing of this request's stays pending, or locks SQLite's writer
    shown = _lines_on_screen(user_id)
    _delete_cascading(user_id)
    db.session.expire_all()
    _take_off_screen(shown)
    log.info("account %s deleted", user_id)


def _lines_on_screen(user_id: int) -> list[tuple[int, int]]:
    """(channel id, message id) of the user's chat lines that open chats may be showing: those of
    the last day, as a moderator's purge takes them (app.moderation.services.purge_messages)."""
    since = utcnow() - timedelta(days=1)
    return list(db.session.execute(
        select(ChatMessage.channel_id, ChatMessage.id).where(
            ChatMessage.user_id == user_id, ChatMessage.state.in_(("visible", "held")),
            ChatMessage.created_at >= since)).tuples())


def _take_off_screen(lines: list[tuple[int, int]]) -> None:
    """Tell open chats that these lines are gone (the same event a moderator's delete sends)."""
    from ..chat import services as chat

    for channel_id, message_id in lines:
        chat.emit("delete", {"id": message_id}, to=chat.room(channel_id))


def delete_account_with_password(user: User, password: str) -> None:
    """The owner's own "delete my account": only with their password (AccountError otherwise;
    wrong ones count like failed logins, see check_current_password)."""
    check_current_password(user, password, "current_password")
    delete_account(user)


def _delete_cascading(user_id: int) -> None:
    """Delete the user row and let the database apply the schema's ON DELETE rules.

    PostgreSQL always does. SQLite does only on a connection with foreign keys switched on,
    which ours are not by default (a switch it ignores inside a transaction): so this runs on
    a connection of its own, switched on before its transaction and off again after."""
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        try:
            connection.execute(delete(User).where(User.id == user_id))
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
