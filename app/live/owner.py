"""What a channel's owner hears about their stream: the dashboard's Socket.IO namespace, one room
per channel, and the push that tells its open dashboards the stream changed (starting, live,
reconnecting, offline), so the live panel follows within a moment instead of at its next poll.

The web (publish hooks, Stop) and the live hosts (a stream becomes playable) both push through
here; the dashboard's handlers (app.dashboard.events) put the owner's sockets in the room."""
from __future__ import annotations

import logging

from ..extensions import socketio

log = logging.getLogger(__name__)

NAMESPACE = "/dashboard"
EVENT = "stream"


def owner_room(channel_id: int) -> str:
    return f"owner:{int(channel_id)}"


def tell_owner(channel_id: int, status: str) -> None:
    """Push `status` to the channel owner's open dashboards. Never raises: the panel's slow poll
    catches up if the push is lost (Redis away)."""
    try:
        socketio.emit(EVENT, {"status": status}, namespace=NAMESPACE, to=owner_room(channel_id))
    except Exception as error:  # noqa: BLE001 - a push is never worth a publish or a Stop
        log.info("channel %s: could not push its stream status (%s)", channel_id, error)
