"""Logins that end: logout, a password change and a disabled account end the login on the
server, so copies of its session cookie and remember cookie stop working; the CSRF token changes
at login; a database that is away makes a visitor anonymous, not an error page."""
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.auth import services as accounts
from app.auth import sessions
from app.extensions import db
from app.models import LoginSession, User, utcnow
from tests.conftest import Actions, csrf_from
from tests.factories import PASSWORD, make_user

COOKIES = ["session", "remember_token"]


def logged_in(client) -> bool:
    response = client.get("/dashboard")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def copy_of(app, client, *names):
    """A second browser holding copies of `client`'s cookies `names` (stolen, or synced)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, f"no {name} cookie to copy"
        thief.set_cookie(name, cookie.value)
    return thief


def logins_of(username: str) -> list[LoginSession]:
    db.session.expire_all()
    user = accounts.find_user(username)
    return list(db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)))


@pytest.mark.parametrize("copied", [["session"], ["remember_token"], ["session", "remember_token"]])
def test_logout_ends_copies_of_the_session_and_remember_cookies(app, client, actions, copied):
    make_user("alice")
    assert actions.login("alice", remember=True).status_code == 303
    copy = copy_of(app, client, *copied)
    assert logged_in(copy)  # the copy works while the login lasts...

    assert actions.logout().status_code == 303
    assert not logged_in(client)
    assert not logged_in(copy)  # ...and not a request longer
    assert not logged_in(copy)  # nor on the next, once the remember cookie was tried
    assert logins_of("alice") == []


def test_logout_deletes_the_remember_cookie(client, actions):
    make_user("alice")
    actions.login("alice", remember=True)
    response = actions.logout()
    cleared = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0], cleared


def test_logout_ends_only_that_login(app, client, actions):
    make_user("alice")
    other = app.test_client()
    Actions(other).login("alice", remember=True)
    actions.login("alice", remember=True)
    actions.logout()
    assert logged_in(other)
    assert len(logins_of("alice")) == 1


def test_each_login_is_its_own_record_with_a_hashed_token(app, client, actions):
    make_user("alice")
    actions.login("alice", remember=True)
    Actions(app.test_client()).login("alice")
    rows = logins_of("alice")
    assert len(rows) == 2
    cookie_id = client.get_cookie("remember_token").value.split("|")[0]
    user_id, token = cookie_id.split(":")
    assert int(user_id) == accounts.find_user("alice").id
    # The database holds the token's hash only.
    assert hashlib.sha256(token.encode()).hexdigest() in {row.token_hash for row in rows}
    assert token not in {row.token_hash for row in rows}


def test_the_user_agent_is_kept_truncated(app):
    make_user("alice")
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 " + "x" * 500
    Actions(client).login("alice")
    (row,) = logins_of("alice")
    assert row.user_agent.startswith("Mozilla/5.0 ") and len(row.user_agent) == 200


@pytest.mark.parametrize("via", ["login", "signup"])
def test_a_csrf_token_from_before_login_is_refused_after_it(client, actions, via):
    if via == "login":
        make_user("alice")
    page = client.get(f"/{via}").get_data(as_text=True)
    before = csrf_from(page)
    response = (actions.login("alice") if via == "login" else actions.signup("alice"))
    assert response.status_code == 303

    refused = client.post("/settings/account", data={
        "email": "new@example.com", "password": PASSWORD, "csrf_token": before})
    assert refused.status_code == 400
    assert accounts.find_user("alice").email == "alice@example.com"

    after = actions.csrf("/settings/account")
    assert after != before
    accepted = client.post("/settings/account", data={
        "email": "new@example.com", "password": PASSWORD, "csrf_token": after})
    assert accepted.status_code == 303
    db.session.expire_all()
    assert accounts.find_user("alice").email == "new@example.com"


def test_nothing_from_before_login_survives_in_the_session(client, actions):
    make_user("alice")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    actions.login("alice")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{accounts.find_user('alice').id}:")


def test_password_change_ends_other_logins_and_their_remember_cookies(app, client, actions):
    make_user("alice")
    other = app.test_client()
    Actions(other).login("alice", remember=True)
    remembered = copy_of(app, other, "remember_token")
    actions.login("alice", remember=True)
    assert logged_in(other) and logged_in(remembered)

    response = actions.post("/settings/password", {
        "current_password": PASSWORD, "new_password": "a brand new passphrase",
        "confirm": "a brand new passphrase"})
    assert response.status_code == 303
    assert not logged_in(other)
    assert not logged_in(remembered)
    # This browser stays in, by its session cookie and by its remember cookie alike.
    assert logged_in(client)
    assert logged_in(copy_of(app, client, "remember_token"))
    assert len(logins_of("alice")) == 1


def test_a_refused_password_change_ends_nothing(app, actions):
    make_user("alice")
    other = app.test_client()
    Actions(other).login("alice")
    actions.login("alice")
    response = actions.post("/settings/password", {
        "current_password": "not it at all", "new_password": "a brand new passphrase",
        "confirm": "a brand new passphrase"})
    assert response.status_code == 200
    assert logged_in(other)
    assert len(logins_of("alice")) == 2


def test_disabling_an_account_ends_its_logins(app, client, actions):
    user = make_user("alice")
    actions.login("alice", remember=True)
    accounts.set_disabled(user, True)
    assert not logged_in(client)
    assert not logged_in(copy_of(app, client, "remember_token"))
    assert logins_of("alice") == []


def test_a_disabled_account_is_refused_even_with_a_live_login(client, actions):
    user = make_user("alice")
    actions.login("alice")
    user.disabled = True  # as a direct database change would, leaving the login row in place
    db.session.commit()
    assert len(logins_of("alice")) == 1
    assert not logged_in(client)


@pytest.mark.both_databases  # ON DELETE CASCADE (SQLite applies it only with foreign keys on)
def test_deleting_a_user_deletes_their_logins(client, actions):
    user = make_user("alice")
    actions.login("alice")
    db.session.delete(db.session.get(User, user.id))
    db.session.commit()
    assert db.session.scalars(select(LoginSession)).all() == []
    assert not logged_in(client)


def test_a_cookie_naming_another_users_login_loads_nobody(app, client, actions):
    make_user("alice")
    bob = make_user("bob")
    actions.login("alice")
    with client.session_transaction() as session:
        _, token = session["_user_id"].split(":")
        session["_user_id"] = f"{bob.id}:{token}"
    assert not logged_in(client)


@pytest.mark.both_databases  # a date comparison in SQL
def test_last_seen_is_written_at_most_once_a_minute(client, actions):
    make_user("alice")
    actions.login("alice")
    (row,) = logins_of("alice")
    first_seen = row.last_seen_at
    assert logged_in(client)
    (row,) = logins_of("alice")
    assert row.last_seen_at == first_seen

    row.last_seen_at = first_seen - timedelta(minutes=2)
    db.session.commit()
    assert logged_in(client)
    (row,) = logins_of("alice")
    assert row.last_seen_at >= first_seen


@pytest.mark.both_databases  # a date comparison in SQL
def test_logins_no_cookie_can_use_any_more_are_pruned(app, client, actions):
    alice = make_user("alice")
    actions.login("alice")
    life = sessions.longest_cookie_life(app)
    assert life == timedelta(days=31)  # Flask's session lifetime, past the 30-day remember cookie
    stale = LoginSession(user_id=alice.id, token_hash="1" * 64,
                         last_seen_at=utcnow() - life - timedelta(minutes=2))
    edge = LoginSession(user_id=alice.id, token_hash="2" * 64, last_seen_at=utcnow() - life)
    db.session.add_all([stale, edge])
    db.session.commit()
    assert sessions.prune_unused(app) == 1
    kept = {row.token_hash for row in logins_of("alice")}
    assert "1" * 64 not in kept and "2" * 64 in kept and len(kept) == 2
    assert logged_in(client)  # the login in use stays


def test_a_database_away_makes_the_visitor_anonymous_not_an_error(client, actions, monkeypatch, caplog):
    make_user("alice")
    actions.login("alice", remember=True)

    def away(token):
        raise OperationalError("SELECT user_sessions", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(sessions, "_row", away)
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 200
    assert "treating the visitor as anonymous" in caplog.text

    monkeypatch.undo()  # the database is back: so is the login, which never ended
    assert logged_in(client)


def test_an_account_equals_itself_whichever_login_loaded_it(app):
    alice = make_user("alice")
    sessions.begin(alice)
    alice_id = alice.id
    db.session.expunge(alice)
    again = db.session.get(User, alice_id)  # another object for the same account, no login
    assert again is not alice
    assert again == alice and not (again != alice)  # noqa: SIM202 - __ne__ is under test too
    assert again != make_user("bob")


def test_a_failed_last_seen_write_keeps_the_visitor_logged_in(client, actions, monkeypatch):
    make_user("alice")
    actions.login("alice")
    (row,) = logins_of("alice")
    row.last_seen_at -= timedelta(minutes=2)
    db.session.commit()

    def busy(*args, **kwargs):
        raise OperationalError("UPDATE user_sessions", {}, Exception("database is locked"))

    monkeypatch.setattr(sessions, "update", busy)
    assert logged_in(client)
