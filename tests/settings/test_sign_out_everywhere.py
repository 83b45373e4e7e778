"""Account settings: the list of logins and "sign out everywhere else" (this browser stays in)."""
from sqlalchemy import select

from app.auth import services as accounts
from app.extensions import db
from app.models import LoginSession
from tests.conftest import Actions, page_text
from tests.factories import make_user


def logged_in(client) -> bool:
    response = client.get("/dashboard")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def browser(app, username, *, agent, remember=False):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    assert Actions(client).login(username, remember=remember).status_code == 303
    return client


def remember_cookie_only(app, client):
    copy = app.test_client()
    copy.set_cookie("remember_token", client.get_cookie("remember_token").value)
    return copy


def test_account_page_lists_logins_and_says_this_browser_stays(app):
    make_user("alice")
    browser(app, "alice", agent="Firefox on the laptop")
    me = browser(app, "alice", agent="Safari on the phone")
    text = page_text(me.get("/settings/account"))
    items = {item.split("</strong>")[0]: item for item in text.split("<strong>")[1:]}
    assert set(items) >= {"Firefox on the laptop", "Safari on the phone"}
    assert "This browser</span>" in items["Safari on the phone"]
    assert "This browser</span>" not in items["Firefox on the laptop"]
    assert "This browser stays logged in." in text
    assert "Sign out everywhere else" in text


def test_sign_out_everywhere_else_ends_every_other_login(app):
    make_user("alice")
    bob_too = make_user("bob")
    laptop = browser(app, "alice", agent="laptop", remember=True)
    laptop_remembered = remember_cookie_only(app, laptop)
    phone = browser(app, "alice", agent="phone")
    bob = browser(app, "bob", agent="bob's")
    me = browser(app, "alice", agent="desktop", remember=True)
    assert all(logged_in(c) for c in (laptop, laptop_remembered, phone, bob, me))

    response = Actions(me).post("/settings/sessions/sign-out-others", token_from="/settings/account")
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/account"
    assert "Signed out of 2 other sessions. This browser stays logged in." in page_text(
        me.get("/settings/account"))

    assert not logged_in(laptop)
    assert not logged_in(laptop_remembered)
    assert not logged_in(phone)
    assert logged_in(me)
    assert logged_in(remember_cookie_only(app, me))
    assert logged_in(bob)  # another user's logins are theirs
    db.session.expire_all()
    alice = accounts.find_user("alice")
    assert len(db.session.scalars(select(LoginSession).where(LoginSession.user_id == alice.id)).all()) == 1
    assert len(db.session.scalars(select(LoginSession).where(LoginSession.user_id == bob_too.id)).all()) == 1


def test_sign_out_everywhere_else_needs_csrf(app):
    make_user("alice")
    phone = browser(app, "alice", agent="phone")
    me = browser(app, "alice", agent="desktop")
    assert me.post("/settings/sessions/sign-out-others").status_code == 400
    assert me.post("/settings/sessions/sign-out-others", data={"csrf_token": "forged"}).status_code == 400
    assert logged_in(phone)


def test_sign_out_everywhere_else_needs_a_login(client):
    response = Actions(client).post("/settings/sessions/sign-out-others", token_from="/login")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_out_everywhere_else_is_post_only(app):
    make_user("alice")
    me = browser(app, "alice", agent="desktop")
    assert me.get("/settings/sessions/sign-out-others").status_code == 405
