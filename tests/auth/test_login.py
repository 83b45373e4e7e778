"""Login, logout, remember-me, rate limits and password changes."""
import pytest

from app.auth import services as accounts
from tests.conftest import Actions, page_text
from tests.factories import PASSWORD, make_user


def test_login_with_username_or_email_any_case(client, actions):
    make_user("Alice", email="alice@example.com")
    for login in ("Alice", "alice", "ALICE@example.com"):
        response = actions.login(login)
        assert response.status_code == 303, login
        assert client.get("/dashboard").status_code == 200
        actions.logout()


def test_wrong_password_shows_error_and_stays_logged_out(client, actions):
    make_user("alice")
    response = actions.login("alice", "wrong password!")
    assert response.status_code == 200
    assert "Wrong username or password." in page_text(response)
    assert client.get("/dashboard").status_code == 302


def test_unknown_user_gets_same_message(actions):
    response = actions.login("nobody", "whatever12345")
    assert "Wrong username or password." in page_text(response)


def test_disabled_user_cannot_log_in(client, actions):
    make_user("alice", disabled=True)
    response = actions.login("alice")
    assert response.status_code == 200
    assert "disabled" in page_text(response)
    assert client.get("/dashboard").status_code == 302


def test_remember_me_sets_httponly_lax_cookie(client, actions):
    make_user("alice")
    response = actions.login("alice", remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember, cookies
    assert "HttpOnly" in remember[0] and "SameSite=Lax" in remember[0]
    session = [c for c in cookies if c.startswith("session=")][0]
    assert "HttpOnly" in session and "SameSite=Lax" in session
    assert "Secure" not in session


def test_cookies_are_secure_behind_https(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    with app.app_context():
        make_user("alice")
        actions = Actions(app.test_client())
        response = actions.login("alice", remember=True)
        for cookie in response.headers.getlist("Set-Cookie"):
            assert "Secure" in cookie


def test_remember_cookie_logs_in_a_new_session(client, actions):
    make_user("alice")
    actions.login("alice", remember=True)
    client.delete_cookie("session")
    assert client.get("/dashboard").status_code == 200


def test_without_remember_a_lost_session_means_logged_out(client, actions):
    make_user("alice")
    actions.login("alice")
    client.delete_cookie("session")
    assert client.get("/dashboard").status_code == 302


def test_login_redirects_only_to_local_next(client, actions):
    make_user("alice")
    csrf = actions.csrf("/login")
    response = client.post("/login?next=/settings/account", data={
        "login": "alice", "password": PASSWORD, "csrf_token": csrf})
    assert response.headers["Location"] == "/settings/account"
    actions.logout()
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        csrf = actions.csrf("/login")
        response = client.post("/login", query_string={"next": evil}, data={
            "login": "alice", "password": PASSWORD, "csrf_token": csrf})
        assert response.headers["Location"] == "/", evil
        actions.logout()


def test_wrong_passwords_are_rate_limited_per_address(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        make_user("alice")
        actions = Actions(app.test_client())
        for _ in range(3):
            assert actions.login("alice", "wrong password!").status_code == 200
        response = actions.login("alice", "wrong password!")
        assert response.status_code == 429
        assert "Too many failed logins" in response.get_data(as_text=True)
        # Even the right password waits until the window passes.
        assert actions.login("alice").status_code == 429


def test_wrong_passwords_are_rate_limited_per_account_across_addresses(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute", PROXY_COUNT=1)
    with app.app_context():
        make_user("alice")
        actions = Actions(app.test_client())
        for n in range(3):
            actions.client.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n}"
            assert actions.login("alice", "wrong password!").status_code == 200
        actions.client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.99"
        assert actions.login("alice", "wrong password!").status_code == 429


def test_successful_logins_are_not_counted(make_app):
    app = make_app(LOGIN_RATE_LIMIT="2 per minute")
    with app.app_context():
        make_user("alice")
        actions = Actions(app.test_client())
        for _ in range(4):
            assert actions.login("alice").status_code == 303
            actions.logout()


def test_logout_needs_post_with_csrf(client, actions):
    make_user("alice")
    actions.login("alice")
    page = client.get("/logout")
    assert page.status_code == 200 and b"Log out?" in page.data
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200
    assert actions.logout().status_code == 303
    assert client.get("/dashboard").status_code == 302


def test_password_change_signs_out_other_sessions(app, actions):
    make_user("alice")
    other = Actions(app.test_client())
    other.login("alice")
    actions.login("alice")
    response = actions.post("/settings/password", {
        "current_password": PASSWORD, "new_password": "a brand new passphrase",
        "confirm": "a brand new passphrase"})
    assert response.status_code == 303
    assert actions.client.get("/dashboard").status_code == 200
    assert other.client.get("/dashboard").status_code == 302
    actions.logout()
    assert actions.login("alice", PASSWORD).status_code == 200
    assert actions.login("alice", "a brand new passphrase").status_code == 303


@pytest.mark.parametrize("form, message", [
    ({"current_password": "not it at all", "new_password": "a brand new passphrase",
      "confirm": "a brand new passphrase"}, "That isn't your current password."),
    ({"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
     "at least 10 characters"),
    ({"current_password": PASSWORD, "new_password": "password1234", "confirm": "password1234"},
     "commonly used"),
])
def test_password_change_refusals_change_nothing(app, actions, form, message):
    user = make_user("alice")
    before = user.password_hash
    actions.login("alice")
    response = actions.post("/settings/password", form)
    assert response.status_code == 200
    assert message in page_text(response)
    assert accounts.find_user("alice").password_hash == before


def test_email_change_needs_password_and_unique_address(actions):
    make_user("bob", email="bob@example.com")
    make_user("alice")
    actions.login("alice")
    response = actions.post("/settings/account", {"email": "bob@example.com", "password": PASSWORD})
    assert "Another account uses that email." in page_text(response)
    response = actions.post("/settings/account", {"email": "new@example.com", "password": "nope nope nope"})
    assert "That isn't your current password." in page_text(response)
    assert accounts.find_user("alice").email == "alice@example.com"
    response = actions.post("/settings/account", {"email": "New@Example.com", "password": PASSWORD})
    assert response.status_code == 303
    assert accounts.find_user("alice").email == "new@example.com"


@pytest.mark.parametrize("path", ["/dashboard", "/settings/account", "/settings/password", "/logout"])
def test_private_pages_send_anonymous_visitors_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
