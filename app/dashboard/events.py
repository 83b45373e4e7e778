"""Socket.IO handlers for /dashboard: a creator's open dashboards join their channel's owner room
(app.live.owner), where the publish hooks and live hosts push stream changes."""
from __future__ import annotations

from flask_login import current_user
from flask_socketio import emit, join_room

from ..extensions import db, socketio
from ..live.owner import EVENT, NAMESPACE, owner_room
from .services import panel_status


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    # A dashboard is its owner's alone: anyone else's socket has nothing to hear here.
    if not current_user.is_authenticated or current_user.channel is None:
        db.session.remove()
        return False
    channel = current_user.channel
    join_room(owner_room(channel.id))
    # Each (re)connect starts with the status as it is now: a push missed while the socket was
    # down would otherwise leave the panel behind until its fallback poll.
    emit(EVENT, {"status": panel_status(channel)})
    db.session.remove()
    return True
