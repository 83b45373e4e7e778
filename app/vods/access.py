"""Who may see a channel's VODs: one place for the rule that pages, the API, nginx's access check
and the object routes all ask.

- `can_manage_vods`: the channel's owner and site admins (`can_manage_channel`). They see every
  VOD, private ones included, its download link, and the channel's VOD pages even once the
  owner's account is disabled.
- `can_view_vod`: those, and everyone once the VOD is published, unless the owner's account is
  disabled (its channel is gone for everyone but admins); nobody while a copyright notice has
  the VOD disabled (its page answers 451).

A disabled account is not authenticated (`User.is_active`): it counts as an anonymous visitor.
"""
from __future__ import annotations

from ..channels.access import can_manage_channel
from ..models import VOD, Channel


def can_manage_vods(channel: Channel, user) -> bool:
    """Whether `user` (a User, Flask-Login's anonymous user, or None) sees all of the channel's
    VODs, private ones too (creators change only their own, in their dashboard's library)."""
    return can_manage_channel(channel, user)


def can_view_vod(vod: VOD | None, user) -> bool:
    """Whether `user` (a User, Flask-Login's anonymous user, or None) may watch `vod`."""
    if vod is None or vod.disabled_at is not None:  # after a copyright notice: nobody (app.safety.takedown)
        return False
    if can_manage_vods(vod.channel, user):
        return True
    return vod.is_public and not vod.channel.owner.disabled
