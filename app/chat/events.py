"""Socket.IO handlers for the /chat namespace: connect, join and send; the rules live in services."""
from __future__ import annotations

import ipaddress
import logging
import time
from functools import lru_cache, wraps
from typing import Any

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import emit, join_room, leave_room
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from ..channels.access import is_moderator, is_staff_role
from ..extensions import db, get_redis, socketio
from ..metrics.registry import SOCKET_CONNECTS, SOCKETS
from . import limits, services
from .automod import HELD_REASON
from .services import NAMESPACE, ChatRefused

log = logging.getLogger("app.chat")

THROTTLE_KEY = "chat_throttled_until"
ROOMS_KEY = "chat_rooms"
STAFF_KEY = "chat_staff"  # (channel id, user id) while the socket is in a staff room


@lru_cache(maxsize=8)
def _networks(spec: str):
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in spec.split(",") if part.strip())


def _exempt(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(current_app.config["CHAT_CONNECT_EXEMPT"]))


def refusals_as_errors(handler):
    """A refused event answers with an `error` event and a not-ok acknowledgement, never a disconnect."""
    @wraps(handler)
    def wrapper(data=None):
        try:
            return handler(data if isinstance(data, dict) else {})
        except ChatRefused as refusal:
            emit("error", refusal.as_event())
            return {"ok": False, **refusal.as_event()}
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("chat %s failed: database unavailable (%s)", handler.__name__, type(error).__name__)
            unavailable = ChatRefused("unavailable", services.UNAVAILABLE)
            emit("error", unavailable.as_event())
            return {"ok": False, **unavailable.as_event()}
    return wrapper


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    SOCKETS.labels(NAMESPACE).inc()
    SOCKET_CONNECTS.labels(NAMESPACE).inc()
    # Anonymous viewers may read; a flood of connects from one address is slowed down by
    # refusing its joins for a while (with the wait), not by refusing the connection, which
    # would make socket.io clients reconnect in a loop.
    if current_user.is_authenticated:
        return True
    address = request.remote_addr or ""
    per_minute = current_app.config["CHAT_ANON_CONNECTS_PER_MINUTE"]
    if per_minute > 0 and not _exempt(address):
        try:
            wait = limits.count_connect(get_redis(), address, per_minute)
        except RedisError:
            wait = 0
        if wait:
            session[THROTTLE_KEY] = time.time() + wait
            emit("error", {"code": "rate_limited", "retry_after": wait,
                           "message": f"Too many connections from your network. Chat loads in {int(wait)} s."})
    return True


@socketio.on("join", namespace=NAMESPACE)
@refusals_as_errors
def on_join(data):
    throttled_until = session.get(THROTTLE_KEY, 0)
    if throttled_until > time.time():
        wait = throttled_until - time.time()
        raise ChatRefused("rate_limited", f"Too many connections from your network. "
                          f"Try again in {int(wait) + 1} s.", retry_after=wait)
    channel = services.channel_for_event(data)
    after = services.parse_after(data)
    # The socket's session remembers its rooms: asking Socket.IO would scan every room of the
    # namespace (one per connected socket), which made a burst of joins quadratic.
    for name in session.get(ROOMS_KEY, ()):
        leave_room(name)
    _forget_staff_socket()
    # Join the room before reading the backlog, so nothing falls between the two.
    joined = [services.room(channel.id)]
    if not _enter(joined[0]):
        return {"ok": False, "code": "gone"}
    state = services.join_state(channel, current_user, after)
    if current_user.is_authenticated:
        joined.append(services.user_room(channel.id, current_user.id))
    if is_staff_role(state["role"]):
        joined.append(services.staff_room(channel.id))
    for name in joined[1:]:
        if not _enter(name):
            return {"ok": False, "code": "gone"}
    session[ROOMS_KEY] = joined
    if is_staff_role(state["role"]):
        services.remember_staff_socket(channel.id, current_user.id, request.sid)  # type: ignore[attr-defined]
        session[STAFF_KEY] = (channel.id, current_user.id)
        # A moderator removed while this join was under way: the removal may have read the
        # staff sockets before this one was recorded, so look again now that it is.
        if state["role"] == "moderator" and not is_moderator(channel.id, current_user.id):
            leave_room(services.staff_room(channel.id))
            _forget_staff_socket()
            joined.pop()
            session[ROOMS_KEY] = joined
            state = services.join_state(channel, current_user, after)
    if "restriction" in state:
        emit("notice", {"text": state["restriction"]["message"], "kind": state["restriction"]["code"]})
    return state


def _enter(room: str) -> bool:
    """Join `room`; False when the socket disconnected while its join was being handled (the
    client left the page at once): Socket.IO has already forgotten it, and there is nobody to
    answer."""
    try:
        join_room(room)
    except (KeyError, ValueError):  # python-socketio raises either, by whether the namespace has sockets
        log.info("chat join: the socket left before it could join %s", room)
        return False
    return True


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(reason=None):
    SOCKETS.labels(NAMESPACE).dec()
    _forget_staff_socket()


def _forget_staff_socket() -> None:
    staff = session.pop(STAFF_KEY, None)
    if staff:
        channel_id, user_id = staff
        services.forget_staff_socket(channel_id, user_id, request.sid)  # type: ignore[attr-defined]


@socketio.on("send", namespace=NAMESPACE)
@refusals_as_errors
def on_send(data):
    channel = services.channel_for_event(data)
    nonce = data.get("nonce")
    if nonce is not None and not (isinstance(nonce, str) and limits.SEND_NONCE.fullmatch(nonce)):
        raise ChatRefused("bad_request", "This message could not be sent: reload the page.")
    if nonce and current_user.is_authenticated:
        try:
            earlier = limits.claim_send(get_redis(), current_user.id, nonce)
        except RedisError:
            earlier, nonce = None, None  # the send itself says whether Redis is needed
        if earlier is not None:
            if earlier.get("pending"):
                raise ChatRefused("in_flight", "This message is still being sent.", retry_after=1)
            return earlier
    else:
        nonce = None
    try:
        sent = services.send_message(channel, current_user, data.get("text"))
    except Exception:
        _settle(nonce, None)
        raise
    ack: dict[str, Any] = {"ok": True, "id": sent.message.id}
    if sent.held:
        ack["held"] = True
        ack["message"] = HELD_REASON
        emit("notice", {"text": ack["message"], "kind": "held"})
    _settle(nonce, ack)
    return ack


def _settle(nonce: str | None, ack: dict | None) -> None:
    if nonce:
        try:
            limits.settle_send(get_redis(), current_user.id, nonce, ack)
        except RedisError:
            pass  # the claim frees itself (SEND_PENDING_TTL); a retry meanwhile is told to wait
