"""Socket.IO handlers for /notifications: a logged-in user's sockets join their own room."""
from __future__ import annotations

from flask_login import current_user
from flask_socketio import emit, join_room

from ..extensions import db, socketio
from .services import NAMESPACE, unread_count, user_room


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    # Notifications are personal: an anonymous socket has nothing to hear, so it is refused.
    if not current_user.is_authenticated:
        return False
    join_room(user_room(current_user.id))
    # Every (re)connect starts with the count as it is now: a push missed while the socket was
    # down (a laptop asleep, a network change) would otherwise leave the bell wrong until a reload.
    emit("notification", {"unread": unread_count(current_user.id)})
    db.session.remove()
    return True
