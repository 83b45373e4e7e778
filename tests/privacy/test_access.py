"""Who may use the privacy routes: anonymous visitors, another member and the owner, route by route."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth import deletion
from app.extensions import db
from app.models import DataExport, User
from app.privacy import exports
from tests.conftest import Actions
from tests.factories import PASSWORD, make_user

ROLES = ("anonymous", "other member", "owner")


@pytest.fixture
def alices_export(app):
    alice = make_user("alice")
    make_user("bob")
    export = exports.request_export(alice, "http://live.test")
    assert exports.build(export.id, "http://live.test")
    return export


def browser(app, login, role):
    return {"anonymous": app.test_client, "other member": lambda: login("bob"),
            "owner": lambda: login("alice")}[role]()


def answer(response) -> tuple[int, str]:
    response.close()
    return response.status_code, response.headers.get("Location", "").split("?")[0]


@pytest.mark.parametrize("role, expected", zip(ROLES, [(302, "/login"), (200, ""), (200, "")], strict=True))
def test_the_privacy_page(app, login, alices_export, role, expected):
    client = browser(app, login, role)
    response = client.get("/settings/privacy")
    assert answer(response) == expected
    link = f"/settings/privacy/exports/{alices_export.id}/{exports.link_token(alices_export)}"
    assert (link in response.get_data(as_text=True)) is (role == "owner")  # only alice sees her link


@pytest.mark.parametrize("role, expected", zip(ROLES, [(302, "/login"), (404, ""), (200, "")], strict=True))
def test_the_download_link(app, login, alices_export, role, expected):
    client = browser(app, login, role)
    link = f"/settings/privacy/exports/{alices_export.id}/{exports.link_token(alices_export)}"
    assert answer(client.get(link)) == expected


@pytest.mark.parametrize("role, expected", zip(ROLES, [(302, "/login"), (303, "/settings/privacy"),
                                                       (200, "")], strict=True))
def test_asking_for_an_export(app, login, alices_export, role, expected):
    client = browser(app, login, role)
    response = Actions(client).post("/settings/privacy/export", token_from="/")
    assert answer(response) == expected  # alice had one this week: her page says so (200)
    mine = {"anonymous": 1, "other member": 2, "owner": 1}[role]
    assert db.session.query(DataExport).count() == mine


def test_asking_needs_the_csrf_token(app, login):
    make_user("alice")
    assert login("alice").post("/settings/privacy/export").status_code == 400
    assert db.session.query(DataExport).count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_keeping_an_account_waiting_to_be_deleted(app, login, role):
    make_user("alice")
    make_user("bob")
    bob_browser = login("bob") if role == "other member" else None
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    deletion.request_erasure(alice, PASSWORD)
    if role == "owner":  # the browser that just typed her password
        client = app.test_client()
        assert Actions(client).login("alice", PASSWORD).status_code == 200
        expected = (303, "/settings/privacy")
    else:
        client = bob_browser or app.test_client()
        expected = (303, "/login")
    assert answer(Actions(client).post("/login/keep-account", token_from="/")) == expected
    db.session.expire_all()
    assert db.session.get(User, alice.id).erasure_pending is (role != "owner")


@pytest.mark.parametrize("role", ROLES)
def test_the_gpc_statement_is_public(app, login, role):
    make_user("alice")
    make_user("bob")
    assert browser(app, login, role).get("/.well-known/gpc.json").status_code == 200
