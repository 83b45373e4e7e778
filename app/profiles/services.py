"""Profiles: reading a profile page's pieces and the rules for editing one."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from ..auth import names
from ..channels.services import channel_by_slug
from ..extensions import db
from ..models import VOD, Channel, Follow, Profile, TopFriend, User, utcnow
from ..models.vod import VISIBILITY_PUBLIC
from .markdown import MAX_BIO_CHARS

TOP_FRIENDS_MAX = 8
DISPLAY_NAME_MAX = 50

# Themes are presets only: a name maps to CSS classes in profiles.css, never to raw CSS.
ACCENTS = {
    "teal": "Teal", "violet": "Violet", "rose": "Rose", "amber": "Amber",
    "sky": "Sky", "lime": "Lime", "coral": "Coral", "slate": "Slate",
}
BACKGROUNDS = {
    "plain": "Plain", "aurora": "Aurora", "sunset": "Sunset", "ocean": "Ocean",
    "midnight": "Midnight", "grid": "Grid",
}
IMAGE_BACKGROUND = "image"  # set by uploading a background picture, not picked from the list


class ProfileError(ValueError):
    """A refused edit: the form field it concerns and a message for the creator."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username_lower == username.lower()))


def follower_count(channel_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Follow).where(Follow.channel_id == channel_id)
    ) or 0


# --- reading -----------------------------------------------------------------------------

def theme_classes(profile: Profile) -> str:
    accent = profile.theme_accent if profile.theme_accent in ACCENTS else "teal"
    background = profile.theme_background
    if background == IMAGE_BACKGROUND and not profile.background_key:
        background = "plain"
    if background not in BACKGROUNDS and background != IMAGE_BACKGROUND:
        background = "plain"
    return f"theme-accent-{accent} bg-{background}"


def featured_channel(user: User) -> Channel | None:
    """The channel the profile shows off: the one picked, else the creator's own."""
    channel = user.profile.featured_channel if user.profile else None
    if channel is None or channel.owner.disabled:
        channel = user.channel
    return channel


def top_friends(profile: Profile) -> list[User]:
    """The Top 8 in order, leaving out accounts that have been disabled."""
    return [slot.friend for slot in profile.top_friends if not slot.friend.disabled]


def published_vods(user: User, limit: int = 6) -> list[VOD]:
    if user.channel is None:
        return []
    return list(db.session.scalars(
        select(VOD).where(VOD.channel_id == user.channel.id, VOD.visibility == VISIBILITY_PUBLIC,
                          VOD.disabled_at.is_(None))
        .order_by(VOD.published_at.desc().nulls_last(), VOD.id.desc()).limit(limit)
    ))


@dataclass
class ProfilePage:
    user: User
    profile: Profile
    featured: Channel | None
    friends: list[User]
    followers: int
    vods: list = field(default_factory=list)

    @property
    def theme(self) -> str:
        return theme_classes(self.profile)


def profile_page(user: User) -> ProfilePage:
    profile = user.profile
    if profile is None:  # accounts made before profiles existed
        profile = user.profile = Profile()
        db.session.commit()
    return ProfilePage(
        user=user, profile=profile, featured=featured_channel(user), friends=top_friends(profile),
        followers=follower_count(user.channel.id) if user.channel else 0, vods=published_vods(user),
    )


# --- editing -----------------------------------------------------------------------------

def _clean_line(text: str | None) -> str:
    # Control and formatting characters (bidi overrides, zero-width joiners) can disguise a name.
    text = unicodedata.normalize("NFC", text or "")
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf")).strip()


def update_details(user: User, display_name: str | None, bio: str | None) -> None:
    name = " ".join(_clean_line(display_name).split())
    if len(name) > DISPLAY_NAME_MAX:
        raise ProfileError("display_name", f"Keep your display name to {DISPLAY_NAME_MAX} characters.")
    # A name nobody else has, shown as typed: checked when it changes (an old one stays as it is).
    if ((display_name or "").strip() and name != (user.profile.display_name or "")
            and (problem := names.name_problem(name, user=user, staff=user.is_admin))):
        raise ProfileError("display_name", problem)
    bio = unicodedata.normalize("NFC", (bio or "").replace("\r\n", "\n")).strip()
    if len(bio) > MAX_BIO_CHARS:
        raise ProfileError("bio", f"Keep your bio to {MAX_BIO_CHARS} characters (it has {len(bio)}).")
    profile = user.profile
    profile.display_name = name or None
    profile.bio = bio
    profile.updated_at = utcnow()
    names.remember_names(user)
    db.session.commit()


def set_featured_channel(user: User, name: str | None) -> Channel | None:
    """Feature a channel by its name; blank means the creator's own channel."""
    name = (name or "").strip().lstrip("@").lower()
    if not name or (user.channel and name == user.channel.slug):
        channel = None
    else:
        channel = channel_by_slug(name)
        if channel is None or channel.owner.disabled:
            raise ProfileError("featured_channel", "There is no channel with that name.")
    user.profile.featured_channel_id = channel.id if channel else None
    db.session.commit()
    return channel


def set_theme(user: User, accent: str, background: str) -> None:
    if accent not in ACCENTS:
        raise ProfileError("accent", "Pick one of the accent colours shown.")
    profile = user.profile
    if background == IMAGE_BACKGROUND:
        if not profile.background_key:
            raise ProfileError("background", "Upload a background picture first.")
    elif background not in BACKGROUNDS:
        raise ProfileError("background", "Pick one of the backgrounds shown.")
    profile.theme_accent = accent
    profile.theme_background = background
    db.session.commit()


# --- the Top 8 ---------------------------------------------------------------------------

def _visible_ids(profile: Profile) -> list[int]:
    return [friend.id for friend in top_friends(profile)]


def _write_top_friends(profile: Profile, friend_ids: list[int]) -> None:
    """Rewrite the slots as 0..n-1 in the given order (disabled accounts drop out here)."""
    # Delete then insert: swapping two positions in place would trip the unique slot
    # constraint halfway through, and there is no spare slot when all eight are used.
    profile.top_friends.clear()
    db.session.flush()
    for position, friend_id in enumerate(friend_ids):
        profile.top_friends.append(TopFriend(friend_id=friend_id, position=position))
    profile.updated_at = utcnow()
    db.session.commit()
    db.session.refresh(profile, ["top_friends"])


def search_friend_candidates(user: User, q: str, limit: int = 8) -> list[User]:
    """People the creator could add: matching name, not themselves, not already there, not disabled."""
    q = (q or "").strip().lstrip("@").lower()
    if not q:
        return []
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    taken = _visible_ids(user.profile) + [user.id]
    return list(db.session.scalars(
        select(User).outerjoin(Profile, Profile.user_id == User.id)
        .where(User.disabled.is_(False), User.id.not_in(taken),
               or_(User.username_lower.like(pattern, escape="\\"),
                   func.lower(Profile.display_name).like(pattern, escape="\\")))
        .order_by(User.username_lower).limit(limit)
    ))


def add_top_friend(user: User, username: str) -> User:
    friend = user_by_username((username or "").strip().lstrip("@"))
    if friend is None or friend.disabled:
        raise ProfileError("friend", "There is no one with that username.")
    if friend.id == user.id:
        raise ProfileError("friend", "You can't add yourself to your Top 8.")
    ids = _visible_ids(user.profile)
    if friend.id in ids:
        raise ProfileError("friend", f"@{friend.username} is already in your Top 8.")
    if len(ids) >= TOP_FRIENDS_MAX:
        raise ProfileError("friend", "Your Top 8 is full. Remove someone first.")
    _write_top_friends(user.profile, ids + [friend.id])
    return friend


def remove_top_friend(user: User, friend_id: int) -> bool:
    ids = _visible_ids(user.profile)
    if friend_id not in ids:
        return False
    ids.remove(friend_id)
    _write_top_friends(user.profile, ids)
    return True


def move_top_friend(user: User, friend_id: int, step: int) -> bool:
    """Move a friend one place up (step -1) or down (+1). False when they can't move that way."""
    ids = _visible_ids(user.profile)
    if friend_id not in ids or step not in (-1, 1):
        return False
    i = ids.index(friend_id)
    j = i + step
    if not 0 <= j < len(ids):
        return False
    ids[i], ids[j] = ids[j], ids[i]
    _write_top_friends(user.profile, ids)
    return True
