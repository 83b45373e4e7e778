"""Channel rules: stream keys, title, category, tags and stream settings."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort
from sqlalchemy import select

from ..extensions import db
from ..models import Category, Channel, StreamSession, User
from ..models.channel import LATENCY_MODES
from ..streams import viewers
from .access import can_manage_channel

MAX_TITLE = 140
MAX_TAGS = 10
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,24}$")


class ChannelError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def channel_by_slug(slug: str) -> Channel | None:
    return db.session.scalar(select(Channel).where(Channel.slug == slug.lower()))


def channel_or_404(slug: str, *, viewer=None, even_if_disabled: bool = False) -> Channel:
    """The channel at /c/<slug>, for a page about it; a 404 when there is none.

    A disabled owner's channel is a 404 too, except to a `viewer` who manages it
    (`can_manage_channel`; in practice a site admin, as the disabled owner cannot sign in): the
    VOD pages pass theirs, pages about the live channel pass none. `even_if_disabled` is for the
    player's heartbeat, which answers for such a channel as well.
    """
    channel = channel_by_slug(slug)
    if channel is None:
        abort(404)
    if channel.owner.disabled and not even_if_disabled and not can_manage_channel(channel, viewer):
        abort(404)
    return channel


def channel_for_username(username: str) -> Channel | None:
    return db.session.scalar(
        select(Channel).join(User, Channel.owner_id == User.id)
        .where(User.username_lower == username.lower())
    )


def rotate_stream_key(channel: Channel) -> str:
    """Issue a new stream key; the old one is refused from this commit on (the dashboard and the
    CLI call app.streams.services.rotate_stream_key, which also drops a publisher using it)."""
    key = channel.rotate_stream_key()
    db.session.commit()
    return key


def parse_tags(raw: str) -> list[str]:
    """Tags from a comma-separated field: lower-case, de-duplicated, in the order given."""
    tags: list[str] = []
    for part in (raw or "").split(","):
        tag = re.sub(r"\s+", "-", part.strip().lower().lstrip("#"))
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise ChannelError("tags", f"“{part.strip()[:30]}” isn't a valid tag: use letters, "
                                       "digits and dashes, at most 25 characters.")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ChannelError("tags", f"Use at most {MAX_TAGS} tags.")
    return tags


def categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.name)))


def update_info(channel: Channel, title: str, category_id: int | None, tags_raw: str, *,
                mature: bool | None = None, record: bool | None = None,
                latency_mode: str | None = None, content_labels: list[str] | None = None) -> None:
    """Change title, category, tags and settings together, or nothing at all."""
    from ..mature import services as mature_content  # its rules on labels and who may mark mature
    title = " ".join((title or "").split())
    if len(title) > MAX_TITLE:
        raise ChannelError("title", f"Titles are at most {MAX_TITLE} characters.")
    category = None
    if category_id:
        category = db.session.get(Category, category_id)
        if category is None:
            raise ChannelError("category", "Pick a category from the list.")
    tags = parse_tags(tags_raw)
    if latency_mode is not None:
        check_latency_mode(latency_mode)
    try:
        labels = mature_content.checked_labels(content_labels) if content_labels is not None else None
        if mature is not None:
            mature_content.check_mature_allowed(channel.owner, mature)
    except mature_content.LabelError as error:
        raise ChannelError(error.field, error.message) from None
    channel.title = title
    channel.category = category
    channel.tags = tags
    if mature is not None:
        channel.mature = mature
    if labels is not None:
        channel.content_labels = labels
    if record is not None:
        channel.record = record
    if latency_mode is not None:
        channel.latency_mode = latency_mode
    db.session.commit()
    if channel.mature:
        # Its adult owner watches it (the dashboard's preview): marking a channel mature is
        # passing the interstitial.
        mature_content.gate.remember_on_account(channel.owner)


def check_latency_mode(mode: str) -> None:
    if mode not in LATENCY_MODES:
        raise ChannelError("latency_mode", "Pick low or normal latency.")


def set_latency_mode(channel: Channel, mode: str) -> None:
    """Change only the latency mode; it applies from the channel's next stream."""
    check_latency_mode(mode)
    channel.latency_mode = mode
    db.session.commit()


@dataclass
class ChannelStatus:
    """What the API and pages say about a channel right now."""

    slug: str
    title: str
    live: bool
    viewers: int | None  # None while Redis is away: unknown, so pages leave the number out
    hls_url: str | None


def live_session(channel: Channel) -> StreamSession | None:
    if not channel.is_live:
        return None
    return db.session.scalar(
        select(StreamSession).where(StreamSession.channel_id == channel.id,
                                    StreamSession.status == "live")
        .order_by(StreamSession.id.desc())
    )


def hls_url(session: StreamSession) -> str:
    return f"/hls/{session.internal_name}/master.m3u8"


def channel_status(channel: Channel) -> ChannelStatus:
    session = live_session(channel)
    if session is None:
        return ChannelStatus(slug=channel.slug, title=channel.display_title, live=False,
                             viewers=0, hls_url=None)
    return ChannelStatus(slug=channel.slug, title=channel.display_title, live=True,
                         viewers=viewers.count(channel.id), hls_url=hls_url(session))
