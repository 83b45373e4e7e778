"""The SQLite database, and the directory it lives in, are the owner's alone."""
import os
import stat

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.conftest import base_config


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask():
    """The umask most shells and services start with, which would leave files world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_sqlite_file_and_its_directory_are_created_owner_only(tmp_path, usual_umask):
    directory = tmp_path / "instance"
    database = directory / "cascade.db"
    app = create_app(base_config(f"sqlite:///{database}"))
    assert mode(directory) == 0o700
    assert mode(database) == 0o600
    with app.app_context():
        upgrade()  # what `make run` does first: the file fills, SQLite adds its WAL files
        with db.engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM users"))
            extras = [p for p in directory.iterdir() if p != database]
            assert extras, "expected SQLite's -wal/-shm files while a connection is open"
            assert {p.name: mode(p) for p in extras} == {p.name: 0o600 for p in extras}
        db.engine.dispose()
    assert mode(database) == 0o600


def test_the_instance_directory_is_created_owner_only(tmp_path, usual_umask, monkeypatch):
    # Flask puts the instance folder beside the package; a copy of the app's path layout in a
    # temporary directory would be overkill, so point Flask at one there instead.
    from flask import Flask

    made = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(made))
    create_app(base_config("sqlite://"))
    assert mode(made) == 0o700


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(tmp_path, usual_umask):
    database = tmp_path / "shared.db"
    database.touch(mode=0o640)
    create_app(base_config(f"sqlite:///{database}"))
    assert mode(database) == 0o640
