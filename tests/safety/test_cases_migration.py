"""The trust-and-safety migration turns the old, page-less reports table into cases: open reports
on one target share a case, resolved ones become actioned cases; on both databases."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from tests.auth.test_adult_from_migration import sqlite_database
from tests.conftest import base_config, fresh_postgresql

REVISION = "a1e6a1d0c003"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_old_reports_become_cases(tmp_path, backend):
    database = sqlite_database(tmp_path) if backend == "sqlite" else fresh_postgresql("cascade_migration")
    with database as url:
        app = create_app(base_config(url))
        with app.app_context():
            downgrade(revision=f"{REVISION}-1")
            now = datetime(2026, 1, 1, tzinfo=UTC)
            db.session.execute(text(
                "INSERT INTO users (id, username, username_lower, email, password_hash, role, created_at, disabled) "
                "VALUES (1, 'carol', 'carol', 'c@example.com', 'x', 'user', :now, false)"), {"now": now})
            db.session.execute(text(
                "INSERT INTO reports (reporter_id, target_type, target_id, reason, details, state, created_at, "
                "resolution_note) VALUES (1, 'user', 7, 'spam', 'first', 'open', :now, ''), "
                "(NULL, 'user', 7, 'spam', 'second', 'open', :now, ''), "
                "(1, 'vod', 3, 'other', 'old', 'resolved', :now, 'Removed')"), {"now": now})
            db.session.commit()

            upgrade(revision=REVISION)
            cases = db.session.execute(text(
                "SELECT id, target_type, target_id, state, outcome FROM cases ORDER BY id")).all()
            assert [tuple(row[1:]) for row in cases] == [("user", 7, "open", ""), ("vod", 3, "actioned", "Removed")]
            reports = db.session.execute(text("SELECT case_id, details FROM reports ORDER BY id")).all()
            assert [tuple(row) for row in reports] == [(cases[0][0], "first"), (cases[0][0], "second"),
                                                       (cases[1][0], "old")]
            db.session.commit()  # the reads' transaction would hold PostgreSQL's DDL below

            downgrade(revision=f"{REVISION}-1")
            assert "state" in {column["name"] for column in inspect(db.engine).get_columns("reports")}
            upgrade()
            db.session.remove()
            db.engine.dispose()
