"""Queries behind the directory, the home page and search."""
from sqlalchemy import or_, select

from ..extensions import db
from ..models import Category, Channel, User

SEARCH_LIMIT = 20


def live_channels(limit: int = 48) -> list[Channel]:
    return list(db.session.scalars(
        select(Channel).join(User, Channel.owner_id == User.id)
        .where(Channel.is_live.is_(True), User.disabled.is_(False))
        .order_by(Channel.live_since.desc()).limit(limit)
    ))


def recently_live(limit: int = 12) -> list[Channel]:
    return list(db.session.scalars(
        select(Channel).join(User, Channel.owner_id == User.id)
        .where(Channel.is_live.is_(False), Channel.last_live_at.is_not(None), User.disabled.is_(False))
        .order_by(Channel.last_live_at.desc()).limit(limit)
    ))


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.name)))


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(q: str) -> dict[str, list]:
    """Substring search over channels, users and categories, live channels first."""
    q = " ".join((q or "").split())[:100]
    if not q:
        return {"channels": [], "users": [], "categories": []}
    pattern = _like(q.lower())
    channels = db.session.scalars(
        select(Channel).join(User, Channel.owner_id == User.id)
        .where(User.disabled.is_(False),
               or_(Channel.slug.like(pattern, escape="\\"),
                   Channel.title.ilike(pattern, escape="\\")))
        .order_by(Channel.is_live.desc(), Channel.slug).limit(SEARCH_LIMIT)
    )
    users = db.session.scalars(
        select(User).where(User.disabled.is_(False), User.username_lower.like(pattern, escape="\\"))
        .order_by(User.username_lower).limit(SEARCH_LIMIT)
    )
    categories = db.session.scalars(
        select(Category).where(Category.name.ilike(pattern, escape="\\"))
        .order_by(Category.name).limit(SEARCH_LIMIT)
    )
    return {"channels": list(channels), "users": list(users), "categories": list(categories)}
