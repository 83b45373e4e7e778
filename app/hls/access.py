"""Whether a live session's HLS may still be served: until the session ends.

While a session is live, and while it waits out the reconnect grace, its output under /hls/ is
public (its viewers play it). Once it has ended, the same files are its recording, private until
the creator publishes the VOD (served at /vods/ under the VOD's rules): /hls/ answers 404 for
them. nginx asks `GET /internal/hls-access` (auth_request, caching the answer a second or two);
the app's own /hls/ answers (blocking reloads, held parts) ask `ended` directly.

A mature channel's playlists are refused to viewers who have not passed its interstitial
(app.mature.gate): nginx asks with the viewer's cookies for playlists only (cached per viewer a
second), and the app's held playlist reloads ask `gated` themselves.
"""
from __future__ import annotations

import threading
import time

from flask import Response, request
from sqlalchemy import select

from ..extensions import db, limiter
from ..live.state import INTERNAL_NAME
from ..mature import gate
from ..models import StreamSession

# How long a process reuses an answer: held playlist requests arrive several times a second per
# viewer, and a session's end needs to be seen within a second or two, not at once.
REMEMBER_SECONDS = 1.0
HEADER = "X-Hls-Stream"
PLAYLIST_HEADER = "X-Hls-Playlist"

_answers: dict[str, tuple[float, bool]] = {}
_lock = threading.Lock()


def ended(name: str, remembered: bool = True) -> bool:
    """Whether the session named `name` has ended. A name no session has (output nobody owns
    any more is swept by the orphan sweep) is not refused here: only ended sessions are.
    `remembered=False` asks the database: for nginx, which keeps the answer itself (a second
    remembered answer on top of nginx's would serve an ended session for up to twice as long)."""
    now = time.monotonic()
    with _lock:
        found = _answers.get(name)
    if remembered and found is not None and found[0] > now:
        return found[1]
    # Its own short connection, returned at once: a held request must not keep a pooled
    # connection (and its transaction) for the seconds it waits.
    with db.engine.connect() as connection:
        status = connection.scalar(select(StreamSession.status).where(StreamSession.internal_name == name))
    answer = status == "ended"
    with _lock:
        if len(_answers) > 4096:
            _answers.clear()
        _answers[name] = (now + REMEMBER_SECONDS, answer)
    return answer


def forget() -> None:
    """Drop remembered answers (tests)."""
    with _lock:
        _answers.clear()
    gate.forget()


def gated(name: str) -> bool:
    """Whether this request may not have the playlists of the session named `name`: its channel
    is mature and the viewer has not passed the interstitial (cookies only, no database but the
    per-second remembered flag)."""
    return gate.stream_is_mature(name) and not gate.request_passed()


@limiter.exempt  # asked for every stream once a second or two by nginx
def hls_access() -> Response:
    """nginx's auth_request for /hls/: 204 while the session named in X-Hls-Stream is open, 403
    (nginx's 404) once it has ended, and for anything that is not a live session's name."""
    name = request.headers.get(HEADER, "")
    if not INTERNAL_NAME.fullmatch(name) or ended(name, remembered=False):
        return Response(status=403)
    # A playlist (nginx says so, and passes the viewer's session and pass cookies only then) of
    # a mature channel: 401, which nginx answers as 403, to a viewer without the pass. Segments
    # and parts are never asked about per viewer: they stay cacheable at an edge.
    if request.headers.get(PLAYLIST_HEADER) and gate.stream_is_mature(name, remembered=False) \
            and not gate.request_passed():
        return Response(status=401)
    return Response(status=204)
