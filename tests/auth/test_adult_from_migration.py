"""The adult_from migration drops every stored date of birth, keeping for members who are minors
today only the month they come of age (app.auth.age), on both databases."""
from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.auth.age import adult_from
from app.extensions import db
from tests.conftest import base_config, fresh_postgresql, migrate_database

REVISION = "a1e6a1d0c002"


@contextlib.contextmanager
def sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    migrate_database(url)
    yield url


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_dates_of_birth_are_dropped_and_minors_keep_their_coming_of_age(tmp_path, backend):
    database = sqlite_database(tmp_path) if backend == "sqlite" else fresh_postgresql("cascade_migration")
    with database as url:
        check_the_migration(create_app(base_config(url)))


def check_the_migration(app):
    teen = date(date.today().year - 15, 5, 20)
    with app.app_context():
        downgrade(revision=f"{REVISION}-1")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        db.session.execute(text(
            "INSERT INTO users (id, username, username_lower, email, password_hash, role, created_at, disabled, "
            "birth_date) VALUES (1, 'adult', 'adult', 'a@example.com', 'x', 'user', :now, false, '1990-04-01'), "
            "(2, 'teen', 'teen', 't@example.com', 'x', 'user', :now, false, :teen), "
            "(3, 'nodate', 'nodate', 'n@example.com', 'x', 'user', :now, false, NULL)"), {"now": now, "teen": teen})
        db.session.commit()

        upgrade(revision=REVISION)
        rows = dict(db.session.execute(text("SELECT id, adult_from FROM users ORDER BY id")).all())
        assert {key: (date.fromisoformat(value) if isinstance(value, str) else value)
                for key, value in rows.items()} == {1: None, 2: adult_from(teen), 3: None}
        assert "birth_date" not in {column["name"] for column in inspect(db.engine).get_columns("users")}
        db.session.commit()  # the reads' transaction would hold PostgreSQL's ALTER TABLE below

        downgrade(revision=f"{REVISION}-1")
        assert "birth_date" in {column["name"] for column in inspect(db.engine).get_columns("users")}
        upgrade()
        db.session.remove()
        db.engine.dispose()
