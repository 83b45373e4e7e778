"""Whether a viewer has passed the mature-content interstitial, and the cheap check nginx and the
LL-HLS routes ask before serving a mature stream's playlists.

Passing is remembered two ways. The strictly necessary, signed cookie MATURE_COOKIE holds the id
of the account that passed (0: an anonymous visitor); it counts only while the browser's session
is that account's, so a cookie earned while signed out does not let a signed-in member through,
and nobody can carry one into a minor's session. Signed-in adults are also remembered on the
account (`User.mature_passed_at`): a page they load mints the cookie for them. No cookie is ever
minted for a minor (`User.is_minor`), so signed-in minors never pass, by page or by playlist.

The playlist check reads only the cookies (an HMAC, no database): nginx asks it for a
playlist and the app's held LL-HLS reloads ask it several times a second per viewer.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, after_this_request, current_app, g, has_request_context, request, session
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import Channel, StreamSession, utcnow
from . import MATURE_COOKIE
from .labels import label_names

COOKIE_SECONDS = 365 * 24 * 3600
ANONYMOUS = 0
# How long a process reuses "is this stream's channel mature?" for held playlist requests; a
# creator's change shows within a second or two (as app.hls.access does for a session's end).
REMEMBER_SECONDS = 1.0

_mature_streams: dict[str, tuple[float, bool]] = {}
_lock = threading.Lock()


def _serializer(app: Flask) -> URLSafeSerializer:
    found = app.extensions.get("cascade_mature_gate")
    if found is None:
        found = app.extensions.setdefault(
            "cascade_mature_gate", URLSafeSerializer(app.secret_key, salt="mature-gate"))  # type: ignore[arg-type]
    return found


def cookie_value(app: Flask, user_id: int) -> str:
    return _serializer(app).dumps(int(user_id))


def cookie_user_id(app: Flask, value: str | None) -> int | None:
    """The account id a pass cookie was minted for (0 for anonymous), or None if it is no pass."""
    if not value:
        return None
    try:
        found = _serializer(app).loads(value)
    except BadSignature:
        return None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def session_user_id() -> int | None:
    """The account this request's session is signed in as, from the signed session cookie alone
    (Flask-Login keeps "<id>:<login token>" there): 0 when nobody is, None when it cannot tell
    (a remember-me cookie that a page load would turn into a session)."""
    raw = session.get("_user_id")
    if raw:
        head = str(raw).partition(":")[0]
        return int(head) if head.isdigit() else None
    if request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")):
        return None
    return ANONYMOUS


def request_passed() -> bool:
    """The cheap check: the request carries a pass minted for the session it is signed in as."""
    passed_as = cookie_user_id(current_app._get_current_object(),  # type: ignore[attr-defined]
                               request.cookies.get(MATURE_COOKIE))
    return passed_as is not None and passed_as == session_user_id()


def _is_member(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def may_pass(user) -> bool:
    """Whether `user` may ever pass: anonymous visitors and adults; never a signed-in minor."""
    return not _is_member(user) or not user.is_minor()


def viewer_passed(user) -> bool:
    """Whether the viewer of this request has passed: a minor never; an adult who passed on their
    account (or in this browser as themselves); an anonymous visitor with an anonymous pass."""
    cached = g.get("cascade_mature_passed")
    if cached is not None:
        return cached
    if _is_member(user):
        answer = not user.is_minor() and (user.mature_passed_at is not None or request_passed())
    else:
        answer = request_passed()
    g.cascade_mature_passed = answer
    return answer


def set_pass_cookie(response: Response, user) -> Response:
    """Mint the pass for `user` (anonymous when not signed in). Never for a minor."""
    if not may_pass(user):
        return forget_pass_cookie(response)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    response.set_cookie(MATURE_COOKIE, cookie_value(app, user.id if _is_member(user) else ANONYMOUS),
                        max_age=COOKIE_SECONDS, httponly=True, samesite="Lax",
                        secure=app.config["SECURE_COOKIES"])
    return response


def forget_pass_cookie(response: Response) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    response.delete_cookie(MATURE_COOKIE, httponly=True, samesite="Lax", secure=app.config["SECURE_COOKIES"])
    return response


def keep_cookie_in_step(user) -> None:
    """On a page a member loads: an adult who passed on their account gets the cookie the playlist
    check reads (a new browser); a minor loses any pass this browser holds."""
    if not _is_member(user):
        return
    if user.is_minor():
        if request.cookies.get(MATURE_COOKIE):
            after_this_request(forget_pass_cookie)
    elif user.mature_passed_at is not None and not request_passed():
        after_this_request(lambda response: set_pass_cookie(response, user))


def remember_on_account(user) -> None:
    """A signed-in adult passed: every browser they sign in on lets them through from now on, and
    the browser asking, if it is theirs, at once (the playlist check reads its cookie: a creator
    who marks the channel mature in a form saved in place and goes live would otherwise have the
    dashboard's preview refused until the next page load)."""
    if _is_member(user) and not user.is_minor() and user.mature_passed_at is None:
        user.mature_passed_at = utcnow()
        db.session.commit()
    if has_request_context() and _is_member(current_user) and current_user.id == getattr(user, "id", None):
        keep_cookie_in_step(user)


@dataclass
class Gate:
    """What a watch page shows about mature content instead of, or beside, its player."""

    mature: bool = False
    labels: list[str] = field(default_factory=list)  # readable names
    passed: bool = True
    can_pass: bool = True  # False for a signed-in minor: no Continue button

    @property
    def interstitial(self) -> bool:
        return self.mature and not self.passed

    @property
    def notice(self) -> bool:
        """The flag and labels shown beside the player (passed, or labelled without the gate)."""
        return bool(self.labels or self.mature) and not self.interstitial


def gate_for(item, user) -> Gate:
    """The gate of a channel or a VOD (anything with `mature` and `content_labels`) for `user`."""
    if not item.mature and not item.content_labels:
        return Gate()
    keep_cookie_in_step(user)
    return Gate(mature=bool(item.mature), labels=label_names(item.content_labels),
                passed=viewer_passed(user), can_pass=may_pass(user))


def is_labelled(item) -> bool:
    return bool(item.mature or item.content_labels)


def blur_thumbnail(item, user) -> bool:
    """Whether a channel's or a VOD's picture is shown blurred to `user`: labelled (or mature)
    and the viewer has not passed the interstitial (anonymous visitors and minors included)."""
    return is_labelled(item) and not viewer_passed(user)


# A mature VOD's objects that play it whole: its playlists, and the MP4 of its top rung. Its
# segments, poster and seek previews are not asked about per viewer.
GATED_VOD_SUFFIXES = (".m3u8", "/video.mp4")


def vod_object_gated(vod, key: str) -> bool:
    """Whether this request may not have the object `key` of `vod` (cookies only)."""
    return bool(vod is not None and vod.mature and key.endswith(GATED_VOD_SUFFIXES) and not request_passed())


def stream_is_mature(name: str, remembered: bool = True) -> bool:
    """Whether the channel of the live session named `name` is marked mature. `remembered=False`
    asks the database (for nginx, which keeps the answer itself)."""
    now = time.monotonic()
    with _lock:
        found = _mature_streams.get(name)
    if remembered and found is not None and found[0] > now:
        return found[1]
    # Its own short connection, as app.hls.access does: held requests must not keep a pooled one.
    with db.engine.connect() as connection:
        mature = connection.scalar(select(Channel.mature).join(StreamSession, StreamSession.channel_id == Channel.id)
                                   .where(StreamSession.internal_name == name))
    answer = bool(mature)
    with _lock:
        if len(_mature_streams) > 4096:
            _mature_streams.clear()
        _mature_streams[name] = (now + REMEMBER_SECONDS, answer)
    return answer


def forget() -> None:
    """Drop remembered answers (tests)."""
    with _lock:
        _mature_streams.clear()
