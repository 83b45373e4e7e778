"""`flask seed demo`: a few users, channels and categories to look at."""
import secrets

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .auth import services as accounts
from .extensions import db
from .models import Category

seed_cli = AppGroup("seed", help="Fill the database with sample content.")

DEMO_CATEGORIES = [
    ("just-chatting", "Just Chatting"), ("music", "Music"), ("art", "Art"),
    ("software-and-game-dev", "Software & Game Dev"), ("retro-games", "Retro Games"),
    ("speedrunning", "Speedrunning"), ("cooking", "Cooking"), ("science-and-tech", "Science & Tech"),
]

DEMO_USERS = [
    ("nightowl", "Late-night synth jams", "music", ["synthwave", "chill"],
     "Modular synths, bad jokes and good vibes. Live most nights after 10."),
    ("pixelpaula", "Pixel art: drawing a whole tileset", "art", ["pixel-art", "cozy"],
     "Pixel artist. I draw sprites for indie games and stream the process."),
    ("speedy_gonzo", "Any% practice, new route", "speedrunning", ["any-percent", "practice"],
     "Speedrunner. Trying to shave one more frame."),
    ("chefkai", "Sunday ramen from scratch", "cooking", ["ramen", "food"],
     "Home cook, former line cook, forever hungry."),
    ("devdan", "Building a roguelike in Rust", "software-and-game-dev", ["rust", "gamedev"],
     "Making games in public. Ask me anything about ECS."),
]


def ensure_categories() -> dict[str, Category]:
    existing = {c.slug: c for c in db.session.scalars(select(Category))}
    for slug, name in DEMO_CATEGORIES:
        if slug not in existing:
            existing[slug] = Category(slug=slug, name=name)
            db.session.add(existing[slug])
    db.session.commit()
    add_demo_covers(existing[slug] for slug, _ in DEMO_CATEGORIES)
    return existing


def add_demo_covers(categories) -> None:
    """Generated cover art for demo categories that have none yet."""
    from .directory.covers import cover_key, render_cover
    from .storage.backends import get_storage

    storage = get_storage()
    for category in categories:
        if not category.cover_key:
            key = cover_key(category.slug)
            storage.put_bytes(key, render_cover(category.name, category.slug), "image/jpeg")
            category.cover_key = key
    db.session.commit()


@seed_cli.command("demo")
def demo() -> None:
    """Add demo categories and users (safe to run twice). Demo users get random passwords."""
    categories = ensure_categories()
    made = 0
    for username, title, category, tags, bio in DEMO_USERS:
        if accounts.username_taken(username):
            continue
        user = accounts.create_account(username, f"{username}@example.com",
                                       secrets.token_urlsafe(18), None, check_age=False)
        assert user.channel is not None  # create_account makes it
        user.channel.title = title
        user.channel.category = categories[category]
        user.channel.tags = tags
        user.profile.bio = bio
        db.session.commit()
        made += 1
    click.echo(f"Demo content ready: {len(categories)} categories, {made} new users "
               "(with random passwords; use `flask users create` for an account you can log into).")
