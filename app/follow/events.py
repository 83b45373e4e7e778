"""Socket.IO handlers for /notifications: a logged-in user's sockets join their own room."""
from __future__ import annotations

from flask_login import current_user
from flask_socketio import join_room

from ..extensions import socketio
from .services import NAMESPACE, user_room


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    # Notifications are personal: an anonymous socket has nothing to hear, so it is refused.
    if not current_user.is_authenticated:
        return False
    join_room(user_room(current_user.id))
    return True
