"""Queries behind the directory, the home page and search."""
from __future__ import annotations

import logging
import re
import secrets
import zlib
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db, optional_redis
from ..mature.gate import is_labelled
from ..mature.services import unlabelled_channel
from ..models import Category, Channel, Follow, User
from ..streams import viewers
from .search import Results, search  # noqa: F401 - search is part of this module's interface

log = logging.getLogger(__name__)

PAGE_SIZE = 24
# The ordering of the first page is kept this long, so scrolling on never repeats or skips a
# channel while viewer counts move. After that a "More" link starts over from a fresh ordering.
SNAPSHOT_SECONDS = 15 * 60
COVER_STYLES = 8
_CURSOR = re.compile(r"^([A-Za-z0-9_-]{12})\.(\d{1,6})$")


@dataclass
class LivePage:
    """One page of live channels, most watched first, and the cursor of the next page.
    `viewers` leaves out the channels whose count is unknown (Redis is away)."""

    channels: list[Channel] = field(default_factory=list)
    viewers: dict[int, int] = field(default_factory=dict)
    next_cursor: str | None = None
    offset: int = 0


def _snapshot_key(token: str) -> str:
    return f"cascade:directory:snapshot:{token}"


def _live_query(category_id: int | None = None):
    query = (select(Channel).join(User, Channel.owner_id == User.id)
             .where(Channel.is_live.is_(True), User.disabled.is_(False)))
    if category_id is not None:
        query = query.where(Channel.category_id == category_id)
    return query


def _with_cards(query):
    return query.options(selectinload(Channel.owner).selectinload(User.profile), selectinload(Channel.category))


def _has_tag(channel: Channel, tag: str | None) -> bool:
    return tag is None or tag in {t.lower() for t in channel.tags or []}


def ordered_live(category_id: int | None = None, tag: str | None = None, *,
                 hide_labelled: bool = False) -> tuple[list[Channel], dict[int, int]]:
    """Every live channel (optionally of a category and with a tag), most viewers first.

    Live channels are few on a self-hosted site, so they are all read and sorted by their
    viewer counts, fetched from Redis in one round trip; the tag test happens here because
    tags are a JSON list that the two databases query differently. While Redis is away the
    counts are unknown (an empty dict) and the most recently live come first. `hide_labelled`
    leaves out mature and labelled channels (the viewer's filter, app.mature).
    """
    channels = [c for c in db.session.scalars(_with_cards(_live_query(category_id)))
                if _has_tag(c, tag) and not (hide_labelled and is_labelled(c))]
    counts = viewers.counts(c.id for c in channels)
    channels.sort(key=lambda c: (counts.get(c.id, 0), c.live_since.timestamp() if c.live_since else 0, c.id),
                  reverse=True)
    return channels, counts


def live_page(category_id: int | None = None, tag: str | None = None, cursor: str | None = None,
              page_size: int = PAGE_SIZE, *, hide_labelled: bool = False) -> LivePage:
    """A page of live channels. The first page stores the whole ordering in Redis under a token;
    the cursor (`token.offset`) pages through that snapshot, so there are no duplicates or gaps.
    While Redis is away a snapshot can be neither stored nor read: a cursor then starts a fresh
    ordering at its offset, as it does when its snapshot has expired."""
    match = _CURSOR.match(cursor or "")
    if match:
        token, offset = match.group(1), int(match.group(2))
        key = _snapshot_key(token)

        def read(redis) -> tuple[list[int], int]:
            pipe = redis.pipeline(transaction=False)
            pipe.lrange(key, offset, offset + page_size - 1)
            pipe.llen(key)
            ids, total = pipe.execute()
            return [int(i) for i in ids], total

        nothing: tuple[list[int], int] = ([], 0)
        ids, total = optional_redis().ask(read, otherwise=nothing, what="a directory snapshot")
        if ids or offset >= total > 0:
            live = _with_cards(_live_query(category_id).where(Channel.id.in_(ids)))
            by_id = {c.id: c for c in db.session.scalars(live)}
            # A channel that went offline since the snapshot leaves a gap, never a duplicate.
            channels = [by_id[i] for i in ids if i in by_id and not (hide_labelled and is_labelled(by_id[i]))]
            counts = viewers.counts(c.id for c in channels)
            more = offset + page_size < total
            return LivePage(channels, counts, f"{token}.{offset + page_size}" if more else None, offset)
        # The snapshot expired: start a fresh ordering at the same place.
    else:
        offset = 0
    channels, counts = ordered_live(category_id, tag, hide_labelled=hide_labelled)
    page = channels[offset:offset + page_size]
    next_cursor = None
    if len(channels) > offset + page_size:
        token = secrets.token_urlsafe(9)
        key = _snapshot_key(token)

        def store(redis):
            pipe = redis.pipeline()
            pipe.rpush(key, *[c.id for c in channels])
            pipe.expire(key, SNAPSHOT_SECONDS)
            pipe.execute()

        optional_redis().ask(store, otherwise=None, what="storing a directory snapshot")
        next_cursor = f"{token}.{offset + page_size}"
    return LivePage(page, {c.id: counts[c.id] for c in page if c.id in counts}, next_cursor, offset)


def recently_live(limit: int = 12, category_id: int | None = None, *, hide_labelled: bool = False) -> list[Channel]:
    query = (select(Channel).join(User, Channel.owner_id == User.id)
             .where(Channel.is_live.is_(False), Channel.last_live_at.is_not(None), User.disabled.is_(False))
             .order_by(Channel.last_live_at.desc()).limit(limit))
    if hide_labelled:
        query = query.where(unlabelled_channel())
    if category_id is not None:
        query = query.where(Channel.category_id == category_id)
    return list(db.session.scalars(_with_cards(query)))


def category_channels(category_id: int, limit: int = 24, *, hide_labelled: bool = False) -> list[Channel]:
    """A category's channels, live first, then the most recently live, then those never live yet
    (newest first): what a category page offers when few or none are on air."""
    query = (select(Channel).join(User, Channel.owner_id == User.id)
             .where(Channel.category_id == category_id, User.disabled.is_(False))
             .order_by(Channel.is_live.desc(), Channel.last_live_at.is_(None), Channel.last_live_at.desc(),
                       Channel.created_at.desc(), Channel.id.desc())
             .limit(limit))
    if hide_labelled:
        query = query.where(unlabelled_channel())
    return list(db.session.scalars(_with_cards(query)))


def followed_live(user: User, limit: int = 12) -> tuple[list[Channel], dict[int, int]]:
    """Live channels `user` follows, most viewers first."""
    channels = list(db.session.scalars(_with_cards(
        _live_query().join(Follow, Follow.channel_id == Channel.id).where(Follow.follower_id == user.id))))
    counts = viewers.counts(c.id for c in channels)
    channels.sort(key=lambda c: (counts.get(c.id, 0), c.id), reverse=True)
    return channels[:limit], counts


def popular_tags(channels: list[Channel], limit: int = 12) -> list[str]:
    """The tags most used by these channels, for the filter chips."""
    tally: dict[str, int] = {}
    for channel in channels:
        for tag in {t.lower() for t in channel.tags or []}:
            tally[tag] = tally.get(tag, 0) + 1
    return sorted(tally, key=lambda t: (-tally[t], t))[:limit]


def normalise_tag(tag: str | None) -> str | None:
    tag = (tag or "").strip().lower()[:40]
    return tag or None


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.name)))


def categories_by_live() -> list[tuple[Category, int]]:
    """Every category with how many of its channels are live, busiest first."""
    live = (select(Channel.category_id, func.count().label("live")).join(User, Channel.owner_id == User.id)
            .where(Channel.is_live.is_(True), User.disabled.is_(False)).group_by(Channel.category_id).subquery())
    rows = db.session.execute(
        select(Category, func.coalesce(live.c.live, 0)).outerjoin(live, live.c.category_id == Category.id)
        .order_by(func.coalesce(live.c.live, 0).desc(), Category.name)
    ).all()
    return [(category, count) for category, count in rows]


def category_by_slug(slug: str) -> Category | None:
    return db.session.scalar(select(Category).where(Category.slug == slug))


def cover_url(category: Category) -> str | None:
    """URL of a category's cover art, or None (templates then draw a generated cover)."""
    if not category.cover_key:
        return None
    try:
        from ..storage.backends import get_storage

        return get_storage().url(category.cover_key)
    except Exception:  # a missing picture must never break a page
        log.warning("category %s: no URL for cover %s", category.id, category.cover_key, exc_info=True)
        return None


def cover_style(category: Category) -> int:
    """Which of the generated cover designs a category gets: stable, from its slug."""
    return zlib.crc32(category.slug.encode()) % COVER_STYLES
