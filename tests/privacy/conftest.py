"""Apps for the privacy tests: objects under the test's tmp_path or in an S3 bucket on loopback
(`site`), a real SMTP server for the mails, and RQ jobs run by a real worker in burst mode."""
from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import live_server, screenshot_dir  # noqa: F401 - for test_privacy_browser.py
from tests.conftest import mail_config
from workers import context


def _config(tmp_path) -> dict:
    return {"MEDIA_ROOT": str(tmp_path / "media"), "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "MAIL_SITE_URL": "http://live.test"}


@pytest.fixture
def app(make_app, tmp_path, monkeypatch):
    app = make_app(**_config(tmp_path))
    monkeypatch.setattr(context, "_app", app)  # jobs run on this app
    with app.app_context():
        yield app


@pytest.fixture(params=["local", "s3"])
def site(request, make_app, tmp_path, monkeypatch):
    """An app whose objects live in a directory or in an S3 bucket on loopback."""
    config = _config(tmp_path)
    if request.param == "s3":
        config.update(request.getfixturevalue("s3_config"))
    app = make_app(**config)
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app


@pytest.fixture
def mail_app(make_app, smtp, tmp_path, monkeypatch):
    app = make_app(**{**_config(tmp_path), **mail_config(smtp)})
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        yield app


@pytest.fixture
def login():
    """A new logged-in test client per call, on whichever app this test runs (app, site or
    mail_app: the suite's `login` would build an app of its own)."""
    from flask import current_app

    from tests.conftest import Actions
    from tests.factories import PASSWORD

    def factory(username: str):
        client = current_app._get_current_object().test_client()  # type: ignore[attr-defined]
        assert Actions(client).login(username, PASSWORD).status_code == 303
        return client
    return factory
