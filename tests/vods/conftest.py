"""Apps for the VOD tests: media and stored objects under the test's tmp_path, and (`site`) the
same on either storage backend."""
from __future__ import annotations

import uuid

import pytest

from tests.factories import make_user


def _app_config(tmp_path) -> dict:
    return {"MEDIA_ROOT": str(tmp_path / "media"), "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "VOD_RETENTION_DAYS": 30}


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(**_app_config(tmp_path))
    with app.app_context():
        yield app


@pytest.fixture(params=["local", "s3"])
def site(request, make_app, tmp_path):
    """An app whose objects live in a directory or in an S3 bucket on loopback."""
    config = _app_config(tmp_path)
    if request.param == "s3":
        config.update(request.getfixturevalue("s3_config"))
    app = make_app(**config)
    with app.app_context():
        yield app


@pytest.fixture
def people(app):
    """A channel's owner, an admin and another user (`login(username)` gives their browsers);
    test_pages.py names its owner "streamer" instead."""
    return {"owner": make_user("maker"), "admin": make_user("boss", admin=True), "other": make_user("viewer")}
