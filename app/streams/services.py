"""The rules of a live session. Hooks, the dashboard's Stop button and jobs all call these.

No function here logs or stores a stream key: only channel ids and internal stream names.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..follow.services import announce_live
from ..jobs import enqueue, enqueue_in, enqueue_transcode
from ..models import Channel, StreamSession, hash_stream_key, utcnow

log = logging.getLogger(__name__)

# A publisher who drops and comes back within this many seconds continues the same session.
RECONNECT_GRACE = timedelta(seconds=30)
_DUMMY_HASH = hash_stream_key("no-such-key")


class PublishRefused(Exception):
    """Why a publish attempt was refused; the message is safe to log (it never holds the key)."""


def hook_secret_ok(presented: str | None) -> bool:
    expected = current_app.config["HOOK_SECRET"]
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


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


def go_live(key: str, *, ingest: str, client_id: str | None) -> StreamSession:
    """Check a publisher's key and open (or resume) its channel's session, or raise PublishRefused."""
    channel = channel_for_key(key)
    if channel is None:
        raise PublishRefused("unknown or rotated stream key")
    if channel.live_banned or channel.owner.disabled:
        raise PublishRefused(f"channel {channel.id} is banned from going live")

    session = open_session_for(channel)
    now = utcnow()
    if session is not None and session.status == "live":
        raise PublishRefused(f"channel {channel.id} already has a publisher (session {session.id})")
    if session is not None and now - session.publisher_left_at > RECONNECT_GRACE:
        end_session(session)  # the grace period ran out before the expiry job got to it
        session = None

    resumed = session is not None
    if session is None:
        session = StreamSession(channel=channel, internal_name=f"st-{secrets.token_hex(8)}",
                                title=channel.title, started_at=now)
        db.session.add(session)
    session.status = "live"
    session.publisher_left_at = None
    session.ingest = ingest
    session.client_id = client_id
    channel.is_live = True
    channel.live_since = channel.live_since if resumed else now
    db.session.commit()
    log.info("channel %s is live: session %s (%s) %s", channel.id, session.id,
             session.internal_name, "resumed" if resumed else "started")
    enqueue_transcode(session.id)
    if not resumed:  # a reconnect within the grace period is the same broadcast: no second notice
        announce_live(session)
    return session


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
    enqueue_in(RECONNECT_GRACE + timedelta(seconds=1), "workers.streams.expire_session", session.id)


def expire_session(session: StreamSession) -> bool:
    """End a session whose publisher did not come back in time. True when it ended it."""
    if session.status != "reconnecting" or utcnow() - session.publisher_left_at < RECONNECT_GRACE:
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
    enqueue("workers.transcode.finish_session", session.id)


def drop_publisher(channel: Channel) -> bool:
    """The creator pressed Stop: end the session and disconnect the publisher from the ingest server."""
    session = open_session_for(channel)
    if session is None:
        return False
    end_session(session)
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
    return True
