"""Global Privacy Control: `Sec-GPC: 1` from a signed-in member is recorded as their opt-out of the
sale and sharing of personal data and shown on their privacy page; the site states in
/.well-known/gpc.json that it honours the signal."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.conftest import page_text
from tests.factories import make_user


def opted_out_at(username: str):
    db.session.expire_all()
    return db.session.scalar(select(User.gpc_opt_out_at).where(User.username == username))


def test_a_members_gpc_signal_is_recorded_once_and_shown(app, login):
    make_user("alice")
    make_user("bob")
    me = login("alice")
    page = page_text(me.get("/settings/privacy"))
    assert "Opted out" not in page and "Global Privacy Control signal (Sec-GPC)" in page
    assert opted_out_at("alice") is None

    assert me.get("/", headers={"Sec-GPC": "1"}).status_code == 200
    first = opted_out_at("alice")
    assert first is not None
    page = page_text(me.get("/settings/privacy"))
    assert "Opted out" in page and "opt-out of the sale and sharing" in page
    me.get("/directory", headers={"Sec-GPC": "1"})
    assert opted_out_at("alice") == first  # recorded once
    assert opted_out_at("bob") is None  # nobody else's


def test_other_values_and_anonymous_signals_record_nothing(app, login):
    make_user("alice")
    me = login("alice")
    for value in ("0", "", "true", "1, 1"):
        me.get("/", headers={"Sec-GPC": value})
    assert opted_out_at("alice") is None
    visitor = app.test_client()
    assert visitor.get("/", headers={"Sec-GPC": "1"}).status_code == 200
    assert db.session.scalar(select(User.id).where(User.gpc_opt_out_at.is_not(None))) is None


def test_the_signal_does_not_commit_a_pages_half_done_work(app, login):
    """A signalled form post still succeeds as a whole (the record commits only a clean session)."""
    make_user("alice")
    me = login("alice")
    from tests.conftest import Actions

    response = Actions(me).post("/settings/privacy/export", token_from="/settings/privacy",
                                headers={"Sec-GPC": "1"})
    assert response.status_code == 303
    assert opted_out_at("alice") is not None


def test_the_site_states_that_it_honours_gpc(app):
    response = app.test_client().get("/.well-known/gpc.json")
    assert response.status_code == 200 and response.is_json
    assert response.get_json()["gpc"] is True and response.get_json()["lastUpdate"]
