"""Reading profiles."""
from sqlalchemy import func, select

from ..extensions import db
from ..models import Follow, User


def user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username_lower == username.lower()))


def follower_count(channel_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Follow).where(Follow.channel_id == channel_id)
    )
