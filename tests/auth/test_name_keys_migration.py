"""The name_keys migration gives members who joined before it their keys, so the lookalike rule
protects their names from the first signup after the upgrade."""
from __future__ import annotations

from datetime import UTC, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import create_app
from app.auth import names
from app.extensions import db
from tests.conftest import base_config

REVISION = "f7a2c4e6b8d0"


def test_the_migration_keys_existing_names_and_downgrades(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'before.db'}"))
    with app.app_context():
        upgrade(revision=f"{REVISION}-1")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        db.session.execute(text(
            "INSERT INTO users (id, username, username_lower, email, password_hash, role, created_at, disabled) "
            "VALUES (1, 'Alice', 'alice', 'a@example.com', 'x', 'user', :now, false), "
            "       (2, 'bob', 'bob', 'b@example.com', 'x', 'user', :now, false)"), {"now": now})
        db.session.execute(text(
            "INSERT INTO profiles (user_id, display_name, bio, theme_accent, theme_background, updated_at) "
            "VALUES (1, NULL, '', 'teal', 'plain', :now), (2, 'Zedgamer', '', 'teal', 'plain', :now)"),
            {"now": now})
        db.session.commit()

        upgrade()
        keys = {(user_id, key) for user_id, key in db.session.execute(text("SELECT user_id, key FROM name_keys"))}
        assert keys == ({(1, key) for key in names.name_keys("Alice")}
                        | {(2, key) for key in names.name_keys("bob") | names.name_keys("Zedgamer")})
        assert names.lookalike_of("ZEDGARNER").username == "bob"

        downgrade(revision=f"{REVISION}-1")
        tables = set(db.session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        assert "name_keys" not in tables and "users" in tables
        db.session.remove()
        db.engine.dispose()
