"""Mature-content rules: content labels on channels and VODs, passing the interstitial, and the
viewer's filter. Pages, the dashboard, the VOD manager and the VOD job all come here."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Text, and_, cast, or_

from ..extensions import db
from ..models import VOD, Channel, User
from . import gate
from .labels import UnknownLabel, clean_labels

MINOR_MATURE = "Accounts under 18 can't mark a channel or a video as mature."


class LabelError(ValueError):
    """A content setting that breaks a rule; nothing was changed."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def checked_labels(keys: Iterable[str] | None) -> list[str]:
    try:
        return clean_labels(keys)
    except UnknownLabel as error:
        raise LabelError("content_labels", f"{error}. Pick labels from the list.") from None


def check_mature_allowed(owner: User, mature: bool) -> None:
    if mature and owner.is_minor():
        raise LabelError("mature", MINOR_MATURE)


def inherited_content(channel: Channel) -> dict:
    """What a new VOD of `channel` starts with (workers/vod.py): the channel's flag and labels."""
    return {"mature": bool(channel.mature), "content_labels": list(channel.content_labels or [])}


def set_vod_content(vod: VOD, mature: bool, labels: Iterable[str] | None) -> None:
    """Change a VOD's mature flag and labels together, or raise LabelError and change nothing."""
    keys = checked_labels(labels)
    check_mature_allowed(vod.channel.owner, mature)
    vod.mature = bool(mature)
    vod.content_labels = keys
    db.session.commit()


def pass_interstitial(user) -> bool:
    """The viewer pressed Continue. A signed-in adult is remembered on the account; a minor is
    refused (False), an anonymous visitor passes by the cookie the route sets."""
    if not gate.may_pass(user):
        return False
    gate.remember_on_account(user)
    return True


def set_hide_labelled(user: User, hide: bool) -> None:
    user.hide_labelled = bool(hide)
    db.session.commit()


def hides_labelled(user) -> bool:
    """Whether this viewer leaves labelled and mature channels out of the directory and search."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.hide_labelled)


def unlabelled_channel():
    """SQL: a channel neither mature nor labelled (its label list is empty). The JSON column is
    compared as text, which reads the same on PostgreSQL (json) and SQLite."""
    return and_(Channel.mature.is_(False),
                or_(Channel.content_labels.is_(None), cast(Channel.content_labels, Text).in_(("[]", "null"))))


def without_labelled(channels: Iterable[Channel]) -> list[Channel]:
    return [channel for channel in channels if not gate.is_labelled(channel)]
