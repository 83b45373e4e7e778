"""Directory fixtures: live channels with viewer counts, and logged-in clients."""
from __future__ import annotations

from app.extensions import db
from app.streams import viewers
from tests.factories import make_live, make_user


def make_streamer(username: str, *, title: str = "", live: bool = False, watching: int = 0,
                  category=None, tags: list[str] | None = None, disabled: bool = False):
    """A user whose channel has this title, category and tags, live with `watching` viewers."""
    user = make_user(username, disabled=disabled)
    user.channel.title = title
    user.channel.category = category
    user.channel.tags = tags or []
    db.session.commit()
    if live:
        make_live(user)
        for n in range(watching):  # the way players report in
            viewers.heartbeat(user.channel.id, f"viewer-{n}", None)
    return user

