"""Who is who in a channel: a user's role there, and the two circles those roles draw.

- `can_manage_channel`: the owner and site admins. They pick the channel's moderators, see all
  of its VODs (private ones too), and still reach its VOD pages once the owner's account is
  disabled.
- `is_channel_staff`: the owner, site admins and the channel's moderators. They moderate its
  chat (held messages, timeouts, bans, the mod log).

"Staff" means the second circle everywhere. A disabled account is not authenticated
(`User.is_active`), so it is "anonymous" here like any visitor.
"""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Channel, ChannelRole

STAFF_ROLES = ("owner", "admin", "moderator")


def role_of(channel: Channel, user) -> str:
    """owner, admin, moderator, viewer, or anonymous (`user` may be None or Flask-Login's
    anonymous user)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    if user.id == channel.owner_id:
        return "owner"
    if user.is_admin:
        return "admin"
    if is_moderator(channel.id, user.id):
        return "moderator"
    return "viewer"


def is_moderator(channel_id: int, user_id: int) -> bool:
    return db.session.scalar(
        select(ChannelRole.id).where(ChannelRole.channel_id == channel_id,
                                     ChannelRole.user_id == user_id)
    ) is not None


def is_staff_role(role: str) -> bool:
    """Whether a role `role_of` gave is channel staff (for callers that need the role anyway)."""
    return role in STAFF_ROLES


def is_channel_staff(channel: Channel, user) -> bool:
    """The owner, a site admin or one of the channel's moderators."""
    return is_staff_role(role_of(channel, user))


def can_manage_channel(channel: Channel, user) -> bool:
    """The owner or a site admin (no moderator): asked without a database query."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.id == channel.owner_id or user.is_admin
