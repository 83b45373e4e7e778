"""The rules of a live session. Hooks, the dashboard's Stop button and jobs all call these.

No function here logs or stores a stream key: only channel ids and internal stream names.
"""
from __future__ import annotations

import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import cast

import requests
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from ..channels import services as channels
from ..chat import services as chat
from ..extensions import db, get_redis, socketio
from ..follow.services import announce_live
from ..jobs import enqueue, enqueue_in
from ..live import hosts, ingest
from ..live.owner import tell_owner
from ..live.state import RECONNECT_GRACE, LiveKeys, new_internal_name, pull_url
from ..models import Channel, StreamSession, hash_stream_key, utcnow

log = logging.getLogger(__name__)

_DUMMY_HASH = hash_stream_key("no-such-key")


class PublishRefused(Exception):
    """Why a publish attempt was refused; the message is safe to log (it never holds the key)."""


def hook_secret_ok(presented: str | None) -> bool:
    if not presented:
        return False
    expected = current_app.config["HOOK_SECRET"]
    return hmac.compare_digest(presented.encode(), expected.encode())


def channel_for_key(key: str) -> Channel | None:
    """The channel this key opens, compared in constant time against the stored hash."""
    channel_id = Channel.id_from_stream_key(key or "")
    channel = db.session.get(Channel, channel_id) if channel_id else None
    if channel is None:
        hmac.compare_digest(hash_stream_key(key or ""), _DUMMY_HASH)  # same work either way
        return None
    return channel if channel.check_stream_key(key) else None


def open_session_for(channel: Channel) -> StreamSession | None:
    return db.session.scalar(
        select(StreamSession).where(StreamSession.channel_id == channel.id,
                                    StreamSession.status != "ended")
        .order_by(StreamSession.id.desc())
    )


def session_by_name(internal_name: str) -> StreamSession | None:
    return db.session.scalar(select(StreamSession).where(StreamSession.internal_name == internal_name))


def stop_cooldown_left(channel: Channel) -> timedelta | None:
    """How long Stop still refuses this channel's publishes, or None."""
    until = channel.publish_blocked_until
    if until is None:
        return None
    left = until - utcnow()
    return left if left > timedelta(0) else None


# offline: no open session. starting: a publisher is connected but viewers cannot play the stream
# yet (the channel is announced live only once they can, see mark_playable). live: announced and
# playable. reconnecting: the publisher left and the session waits out the grace period.
STREAM_STATUSES = ("offline", "starting", "live", "reconnecting")


def stream_status(channel: Channel, session: StreamSession | None) -> str:
    """What the channel's stream is doing now (one of STREAM_STATUSES); `session` is its open one."""
    if session is None:
        return "offline"
    if session.status == "reconnecting":
        return "reconnecting"
    return "live" if channel.is_live else "starting"


def go_live(key: str, *, ingest: str, client_id: str | None,
            ingest_url: str | None = None) -> StreamSession:
    """Check a publisher's key and open (or resume) its channel's session, or raise PublishRefused.

    The channel is not announced live here: a live host takes the session, and `mark_playable`
    announces it once viewers can play it."""
    channel = channel_for_key(key)
    if channel is None:
        raise PublishRefused("unknown or rotated stream key")
    if is_live_banned(channel) or channel.owner.disabled:
        raise PublishRefused(f"channel {channel.id} is banned from going live")
    if (left := stop_cooldown_left(channel)) is not None:
        raise PublishRefused(f"channel {channel.id} was stopped by its creator; publishing is refused "
                             f"for {int(left.total_seconds())} s more unless they lift it on the dashboard")

    session = open_session_for(channel)
    now = utcnow()
    if session is not None and session.status == "live":
        if not publisher_missing(session):
            raise PublishRefused(f"channel {channel.id} already has a publisher (session {session.id})")
        # A ghost: its publish_done never came (nginx stopped, or this app was away when it was
        # sent). The new publisher resumes it, as a reconnect would.
        log.warning("session %s (%s): the ingest server holds no publisher for it and no media "
                    "flows; the new publisher resumes it", session.id, session.internal_name)
        publisher_left(session)
    # (A session still here is waiting for its publisher: publisher_left_at is set.)
    if session is not None and now - cast(datetime, session.publisher_left_at) > RECONNECT_GRACE:
        end_session(session)  # the grace period ran out before the expiry job got to it
        session = None

    resumed = session is not None
    if session is None:
        session = StreamSession(channel=channel, internal_name=new_internal_name(),
                                title=channel.title, started_at=now)
        db.session.add(session)
    session.status = "live"
    session.publisher_left_at = None
    session.ingest = ingest
    session.client_id = client_id
    session.ingest_url = ingest_url
    db.session.commit()
    log.info("channel %s publishing: session %s (%s) %s", channel.id, session.id,
             session.internal_name, "resumed" if resumed else "started")
    tell_owner(channel.id, stream_status(channel, session))
    place_session(session)
    return session


# How long the publish hook holds the publisher while the chosen host connects its pull.
PULL_WAIT_SECONDS = 1.5


def place_session(session: StreamSession) -> str | None:
    """Hand the session to the live host with the most free capacity (app.live.hosts), and give
    that host a moment to connect its pull before the publisher starts: nginx-rtmp then sends it
    the stream from the first frame (it keeps no GOP), so the recording misses nothing and the
    stream plays a whole GOP sooner. A host that is late costs only that."""
    keys = LiveKeys(current_app.config)
    redis = get_redis()
    try:
        chosen = hosts.place(redis, keys, session.id)
        if chosen is None:
            log.warning("session %s: no live host is running; it starts when one does", session.id)
        elif not redis.blpop([keys.pulling(session.id)], timeout=PULL_WAIT_SECONDS):
            log.info("session %s: host %s was not pulling within %.1f s; the publisher goes ahead",
                     session.id, chosen, PULL_WAIT_SECONDS)
        return chosen
    except RedisError as error:
        log.warning("session %s: cannot reach Redis to place it (%s); live hosts find it on their "
                    "next scan", session.id, error)
        return None


def mark_playable(session_id: int, token: int) -> bool:
    """The session's stream can be played: announce the channel live (directory, API, player) and,
    once per broadcast, to its followers. `token` is the writer's lease token: a host that lost the
    session (a newer token owns it) changes nothing. True when it changed something."""
    session = db.session.get(StreamSession, session_id)
    if session is None or session.status != "live" or session.lease_token > token:
        return False
    channel = session.channel
    now = utcnow()
    first = session.playable_at is None
    if first:
        session.playable_at = now
    if not channel.is_live:
        channel.is_live = True
        channel.live_since = channel.live_since or session.started_at or now
    announce = not session.announced
    session.announced = True
    db.session.commit()
    if first:
        log.info("session %s (%s): playable %.1f s after publish", session.id, session.internal_name,
                 (now - session.started_at).total_seconds())
    if announce:  # a reconnect within the grace period is the same broadcast: no second notice
        announce_live(session)
    tell_viewers_playable(channel)
    tell_owner(channel.id, "live")
    return True


def tell_viewers_playable(channel: Channel) -> None:
    """Push "live" to the pages open on the channel (they share its chat room), so a player that
    says "Starting…" loads at once instead of at its next status poll."""
    try:
        socketio.emit("live", {"channel": channel.slug}, namespace=chat.NAMESPACE, to=chat.room(channel.id))
    except Exception as error:  # noqa: BLE001 - the player's poll finds out within a second anyway
        log.info("channel %s: could not push that it plays (%s)", channel.id, error)


def claim_session(session_id: int, *, host: str, token: int, mode: str | None = None,
                  reason: str | None = None, renditions: list | None = None) -> bool:
    """Record the session's owner (and what it gave the stream) unless a newer owner has: the
    fence for the database. True when the row was ours to write."""
    values: dict = {"host": host, "lease_token": token}
    if mode is not None:
        values["mode"] = mode
    if reason is not None:
        values["mode_reason"] = reason[:400]
    if renditions is not None:
        values["renditions"] = renditions
    result = cast(CursorResult, db.session.execute(update(StreamSession)
                                .where(StreamSession.id == session_id, StreamSession.lease_token <= token)
                                .values(**values)))
    db.session.commit()
    return result.rowcount == 1


# Media a live host received this recently (its stats, workers.live.stats) means a publisher is
# there, whatever the ingest server's statistics say: after an nginx reload they come from the new
# worker, and the old one still holds the publishers it had.
INPUT_FRESH_SECONDS = 3.0


def input_flowing(session_id: int) -> bool:
    """Whether the live host running the session received media lately. True when Redis cannot
    tell: nothing is ended on a doubt."""
    try:
        raw = get_redis().get(LiveKeys(current_app.config).stats(session_id))
    except RedisError:
        return True
    try:
        age = json.loads(raw).get("input_age") if raw else None
    except ValueError:
        return False
    return age is not None and age < INPUT_FRESH_SECONDS


def publisher_missing(session: StreamSession, held: set[str] | None = None) -> bool:
    """Whether nobody is publishing a session the database calls live: the ingest server holds no
    publisher on it (`held`: the names it holds, read here when not given) and no media reaches
    its live host. False whenever that cannot be known (another ingest server, no statistics)."""
    config = current_app.config
    if session.ingest != "nginx" or (pull_url(config, session.internal_name, session.ingest_url)
                                     != pull_url(config, session.internal_name)):
        return False  # SRS, or another nginx than ours (INGEST_STAT_URL): not ours to read
    if held is None:
        held = ingest.publishing(config["INGEST_STAT_URL"])
    if held is None or session.internal_name in held:
        return False
    return not input_flowing(session.id)


def client_may_stay(name: str, client_id: str | None) -> bool:
    """Whether an ingest client may stay on stream `name` (nginx-rtmp's on_update). A publisher is
    reported under the key it published with (nginx keeps that name for its notifications), a
    player under the internal name. A publisher may stay while its session is live and still
    its own; a player while the session it plays is live; anything else is over."""
    session = session_by_name(name)
    if session is not None:
        return session.status == "live"
    key_shaped = Channel.id_from_stream_key(name) is not None
    channel = channel_for_key(name) if key_shaped else None
    if channel is None:
        return not key_shaped  # a rotated key is over; any other name is none of ours
    session = open_session_for(channel)
    return (session is not None and session.status == "live"
            and (not client_id or not session.client_id or client_id == session.client_id))


def publisher_left(session: StreamSession) -> None:
    """The publisher disconnected: viewers see offline now; the session waits for a reconnect."""
    if session.status != "live":
        return
    session.status = "reconnecting"
    session.publisher_left_at = utcnow()
    session.channel.is_live = False
    session.channel.last_live_at = session.publisher_left_at
    db.session.commit()
    log.info("session %s (%s): publisher left; waiting %ss for a reconnect", session.id,
             session.internal_name, int(RECONNECT_GRACE.total_seconds()))
    tell_owner(session.channel_id, "reconnecting")
    _wake_hosts(session)  # its host stops the encoders now, freeing the capacity
    try:
        enqueue_in(RECONNECT_GRACE + timedelta(seconds=1), "workers.streams.expire_session", session.id)
    except RedisError as error:
        # The live hosts' reconciliation ends it when the grace has run out (a little late).
        log.warning("session %s: no expiry job (Redis: %s)", session.id, error)


def expire_session(session: StreamSession) -> bool:
    """End a session whose publisher did not come back in time. True when it ended it."""
    if session.status != "reconnecting" or utcnow() - cast(datetime, session.publisher_left_at) < RECONNECT_GRACE:
        return False
    end_session(session)
    return True


def end_session(session: StreamSession) -> None:
    """Close the session for good and hand its output to post-processing."""
    if session.status == "ended":
        return
    now = utcnow()
    session.status = "ended"
    session.ended_at = now
    channel = session.channel
    if open_session_for(channel) in (None, session):
        channel.is_live = False
        channel.live_since = None
        channel.last_live_at = now
    db.session.commit()
    log.info("session %s (%s) ended", session.id, session.internal_name)
    tell_owner(channel.id, "stopped" if stop_cooldown_left(channel) is not None else "offline")
    _wake_hosts(session)
    try:
        enqueue("workers.live.finish.finish_session", session.id)
    except RedisError as error:
        # Ended all the same: the live hosts' reconciliation queues it once Redis is back.
        log.warning("session %s: its recording is finished later (Redis: %s)", session.id, error)


def _wake_hosts(session: StreamSession) -> None:
    try:
        hosts.wake(get_redis(), LiveKeys(current_app.config), session.id)
    except RedisError:
        pass  # hosts notice at their next scan (and ffmpeg at the end of its input)


def is_live_banned(channel: Channel) -> bool:
    """Staff banned or suspended the channel from going live (a suspension ends by itself)."""
    until = channel.live_banned_until
    return channel.live_banned and (until is None or until > utcnow())


def take_off_air(channel: Channel) -> bool:
    """End the channel's open session and disconnect its publisher (staff suspended the channel or
    its owner, who is refused from now on by go_live; or the creator pressed Stop). True if it was
    on air."""
    session = open_session_for(channel)
    if session is None:
        return False
    end_session(session)
    disconnect_publisher(session)
    return True


def drop_publisher(channel: Channel) -> bool:
    """The creator pressed Stop: end the session, disconnect the publisher, and refuse the channel's
    publishes for STOP_COOLDOWN_SECONDS, so an encoder that reconnects by itself stays off air."""
    cooldown = int(current_app.config["STOP_COOLDOWN_SECONDS"])
    if cooldown > 0:
        channel.publish_blocked_until = utcnow() + timedelta(seconds=cooldown)
        db.session.commit()
    return take_off_air(channel)


def lift_stop(channel: Channel) -> bool:
    """The creator wants to go live again now: accept publishes at once. True if a stop was lifted."""
    lifted = stop_cooldown_left(channel) is not None
    channel.publish_blocked_until = None
    db.session.commit()
    return lifted


def rotate_stream_key(channel: Channel) -> str:
    """A new stream key for the creator; a publisher live with the old one is dropped at once."""
    key = channels.rotate_stream_key(channel)
    drop_old_key_publisher(channel)
    return key


def drop_old_key_publisher(channel: Channel) -> bool:
    """After a key rotation: disconnect a publisher that is live with the old key. The session waits
    out the reconnect grace, so the creator can paste the new key into OBS and carry on."""
    session = open_session_for(channel)
    if session is None or session.status != "live":
        return False
    disconnect_publisher(session)
    # nginx may report the drop under the old key, which no longer names a channel: the session
    # waits for a reconnect from here, whatever the hook later says.
    publisher_left(session)
    return True


def disconnect_publisher(session: StreamSession) -> None:
    """Ask the ingest server holding the session's publisher to drop it."""
    try:
        if session.ingest == "srs":
            url = f"{current_app.config['SRS_API_URL'].rstrip('/')}/api/v1/clients/{session.client_id}"
            requests.delete(url, timeout=3)
        else:
            url = f"http://127.0.0.1:{current_app.config['HOOK_PORT']}/control/drop/publisher"
            requests.get(url, params={"app": "live", "name": session.internal_name}, timeout=3)
    except requests.RequestException as exc:
        # The session is over either way; a publisher still connected is refused on its next publish.
        log.warning("session %s: could not reach the ingest server to drop the publisher: %s",
                    session.id, type(exc).__name__)
