"""Counts chat deliveries: each chat event this web process hands to one of its own sockets.

Every web process hears each emit on the Socket.IO Redis queue and sends it to the sockets it
holds, so the sum over processes is the number of sockets that were sent the event. The count
is taken where python-socketio hands a queued emit to the local sockets (`_handle_emit`)."""
from __future__ import annotations

from typing import Any

from app.chat.services import NAMESPACE
from app.extensions import QuickPublishManager, socketio_queue

from .registry import CHAT_DELIVERIES

# The chat events (the Socket.IO contract's and the staff's): anything else counts as "other".
CHAT_EVENTS = frozenset({"message", "delete", "clear", "notice", "error", "held", "resolved", "modaction", "role",
                         "settings"})


class DeliveryCountingManager(QuickPublishManager):
    def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("namespace") == NAMESPACE:
            skip = message.get("skip_sid")
            skipped = set(skip) if isinstance(skip, list) else {skip}
            sockets = sum(1 for sid, _ in self.get_participants(NAMESPACE, message.get("room"))
                          if sid not in skipped)
            if sockets:
                event = message.get("event")
                CHAT_DELIVERIES.labels(event if event in CHAT_EVENTS else "other").inc(sockets)
        super()._handle_emit(message)


def counting_socketio_queue(url: str, channel: str) -> Any:
    """app.extensions.socketio_queue's manager for `url`, counting deliveries when it is ours."""
    manager = socketio_queue(url, channel)
    if type(manager) is QuickPublishManager:
        return DeliveryCountingManager(url, channel)
    return manager
