"""The site-wide blocked-term list: admins only, page and fragment, bad input changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import BlockedTerm
from tests.conftest import page_text
from tests.factories import PASSWORD, make_user

HX = {"HX-Request": "true"}


def terms():
    return list(db.session.scalars(select(BlockedTerm.term).where(BlockedTerm.channel_id.is_(None))))


@pytest.mark.parametrize("who, status", [(None, 302), ("viewer", 403), ("boss", 200)])
def test_only_admins_see_the_list(app, client, actions, who, status):
    make_user("viewer")
    make_user("boss", admin=True)
    if who:
        actions.login(who, PASSWORD)
    response = client.get("/admin/chat/terms")
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]


def test_admin_adds_and_removes_terms_page_and_fragment(app, client, actions):
    make_user("boss", admin=True)
    actions.login("boss", PASSWORD)
    response = actions.post("/admin/chat/terms", {"term": "  Spam*  "})
    assert response.status_code == 303 and terms() == ["spam*"]
    response = actions.post("/admin/chat/terms", {"term": "scam <b>"}, headers=HX)
    text = page_text(response)
    assert response.status_code == 200 and "is now blocked in every chat" in text
    assert '<section id="site-terms"' in response.get_data(as_text=True)
    assert "scam &lt;b&gt;" in response.get_data(as_text=True)  # escaped, never markup
    term_id = db.session.scalar(select(BlockedTerm.id).where(BlockedTerm.term == "spam*"))
    response = actions.post(f"/admin/chat/terms/{term_id}/remove", token_from="/admin/chat/terms", headers=HX)
    assert "Term removed." in page_text(response)
    assert terms() == ["scam <b>"]


@pytest.mark.parametrize("term, reason", [("", "Type a word or phrase"), ("**", ""), ("spam*", "already")])
def test_bad_terms_are_refused_and_change_nothing(app, client, actions, term, reason):
    make_user("boss", admin=True)
    actions.login("boss", PASSWORD)
    actions.post("/admin/chat/terms", {"term": "spam*"})
    before = terms()
    response = actions.post("/admin/chat/terms", {"term": term}, headers=HX)
    assert response.status_code == 200
    assert reason in page_text(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert terms() == before


def test_viewers_cannot_post_to_the_list(app, client, actions):
    make_user("viewer")
    actions.login("viewer", PASSWORD)
    response = actions.post("/admin/chat/terms", {"term": "anything"}, token_from="/dashboard")
    assert response.status_code == 403 and terms() == []
