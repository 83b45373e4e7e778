"""Limits that fit communities: a meetup behind one address signs up, a mistyped form costs
nothing, a limited form keeps what was typed and says when to retry, guesses from elsewhere
cannot lock an owner out, and current-password checks in settings are limited like logins."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.auth import limits
from app.auth import services as accounts
from app.extensions import db, limiter
from app.models import User
from tests.conftest import Actions, csrf_from, page_text
from tests.factories import PASSWORD, make_user


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def from_address(client, address: str):
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return Actions(client)


def retry_seconds(response) -> int:
    seconds = int(response.headers["Retry-After"])
    assert seconds > 0
    return seconds


@pytest.mark.parametrize("seconds, phrase", [
    (0.2, "in 1 second"), (40, "in 40 seconds"), (61, "in 61 seconds"), (100, "in 2 minutes"),
    (3600, "in 60 minutes"),
    (3 * 3600, "in 3 hours"),
])
def test_retry_phrase(seconds, phrase):
    assert limits.retry_phrase(seconds) == phrase


# --- signup ------------------------------------------------------------------------------------

def test_a_meetup_of_twenty_signs_up_from_one_address_and_a_flood_stops(app):
    # The default SIGNUP_RATE_LIMIT, one address (the test client's), one browser after another.
    actions = Actions(app.test_client())
    for n in range(20):
        assert actions.signup(f"guest{n:02d}").status_code == 303, n
        actions.client.delete_cookie("session")
    for n in range(20, 25):
        assert actions.signup(f"guest{n:02d}").status_code == 303, n
        actions.client.delete_cookie("session")
    response = actions.signup("guest25")
    assert response.status_code == 429
    assert count_users() == 25


def test_signups_sent_back_with_field_errors_do_not_count(make_app):
    app = make_app(SIGNUP_RATE_LIMIT="2 per hour")
    with app.app_context():
        actions = Actions(app.test_client())
        make_user("taken")
        mistakes = [
            actions.signup("x"),                                         # too short
            actions.signup("newbie", password="short"),                  # weak password
            actions.signup("newbie", email="taken@example.com"),         # address in use
            actions.signup("newbie", birth_date="2030-01-01"),           # not a real birth date
            actions.signup("newbie", email="not an address"),
        ]
        assert [response.status_code for response in mistakes] == [200] * 5
        assert actions.signup("first").status_code == 303
        actions.client.delete_cookie("session")
        assert actions.signup("second").status_code == 303
        actions.client.delete_cookie("session")
        assert actions.signup("third").status_code == 429
        assert count_users() == 3  # "taken" and the two new ones


def test_signup_attempts_have_a_generous_limit_of_their_own(make_app):
    app = make_app(SIGNUP_ATTEMPT_RATE_LIMIT="3 per hour")
    with app.app_context():
        actions = Actions(app.test_client())
        for _ in range(3):
            assert actions.signup("x").status_code == 200
        response = actions.signup("newbie")
        assert response.status_code == 429
        assert "Too many signup attempts from your network" in page_text(response)
        assert count_users() == 0


def test_a_limited_signup_keeps_what_was_typed_and_says_when_to_retry(make_app):
    app = make_app(SIGNUP_RATE_LIMIT="1 per hour")
    with app.app_context():
        actions = Actions(app.test_client())
        assert actions.signup("first").status_code == 303
        actions.client.delete_cookie("session")
        response = actions.signup("newbie", email="newbie@example.org", password="a secret phrase 42",
                                  birth_date="1991-02-03")
        assert response.status_code == 429
        html = page_text(response)
        assert re.search(r'<input[^>]*name="username"[^>]*value="newbie"', html)
        assert 'value="newbie@example.org"' in html
        assert 'value="1991-02-03"' in html
        assert "a secret phrase 42" not in html  # passwords are never sent back
        minutes = retry_seconds(response) / 60
        assert 55 <= minutes <= 60
        match = re.search(r"Try again in (\d+) minutes\.", html)
        assert match and abs(int(match.group(1)) - minutes) <= 1, html
        assert "What you typed is kept below" in html
        assert count_users() == 1


def test_a_limited_signup_form_still_signs_up_once_the_window_passes(make_app):
    # The form that came back is a working form: its CSRF token and fields post as they are.
    app = make_app(SIGNUP_RATE_LIMIT="1 per hour")
    with app.app_context():
        actions = Actions(app.test_client())
        assert actions.signup("first").status_code == 303
        actions.client.delete_cookie("session")
        limited = actions.signup("newbie")
        assert limited.status_code == 429
        limiter.reset()  # the hour has passed
        response = actions.post("/signup", {
            "csrf_token": csrf_from(limited.get_data(as_text=True)),
            "username": "newbie", "email": "newbie@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "birth_date": "1990-04-01"})
        assert response.status_code == 303


# --- login -------------------------------------------------------------------------------------

def test_a_limited_login_keeps_the_name_and_says_when_to_retry(make_app):
    app = make_app(LOGIN_RATE_LIMIT="2 per minute")
    with app.app_context():
        make_user("alice")
        actions = Actions(app.test_client())
        for _ in range(2):
            assert actions.login("alice", "wrong password!").status_code == 200
        response = actions.login("alice", "wrong password!")
        assert response.status_code == 429
        html = page_text(response)
        assert 'value="alice"' in html and "wrong password!" not in html
        assert retry_seconds(response) <= 60
        assert re.search(r"Too many failed logins\. Try again in \d+ seconds?\.", html), html


def test_the_owner_logs_in_after_failures_from_other_addresses(make_app):
    app = make_app(LOGIN_RATE_LIMIT="5 per minute", PROXY_COUNT=1)
    with app.app_context():
        owner = from_address(app.test_client(), "198.51.100.7")
        assert owner.signup("alice").status_code == 303  # this browser has been in the account
        assert owner.logout().status_code == 303

        guesser = app.test_client()
        for n in range(5):
            assert from_address(guesser, f"203.0.113.{n}").login("alice", "guess!guess!").status_code == 200
        # Guessing spread over addresses still stops at the account's limit...
        assert from_address(guesser, "203.0.113.99").login("alice", "guess!guess!").status_code == 429
        # ...and a browser that never logged in to it waits too, even with the right password,
        # so a 429 tells a guesser nothing: the page offers a mailed sign-in link (whose mail and
        # following are in test_login_link.py), and the password alone does not sign in.
        new_phone = from_address(app.test_client(), "192.0.2.1")
        response = new_phone.login("alice")
        assert response.status_code == 429
        assert "If the password was right, we've e-mailed you a one-time sign-in link" in page_text(response)
        assert re.search(r"Try again in \d+ seconds?\.", page_text(response))
        assert new_phone.client.get("/dashboard").status_code == 302
        # The owner's browser is not locked out.
        assert owner.login("alice").status_code == 303


def test_an_email_and_a_username_share_the_account_count(make_app):
    app = make_app(LOGIN_RATE_LIMIT="4 per minute", PROXY_COUNT=1)
    with app.app_context():
        make_user("alice")
        guesser = app.test_client()
        for n, name in enumerate(["alice", "ALICE@example.com", "Alice", "alice@example.com"]):
            assert from_address(guesser, f"203.0.113.{n}").login(name, "guess!guess!").status_code == 200
        assert from_address(guesser, "203.0.113.50").login("alice", "guess!guess!").status_code == 429


def test_the_known_browser_is_still_held_to_its_address_limit(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute", PROXY_COUNT=1)
    with app.app_context():
        make_user("alice")
        owner = from_address(app.test_client(), "198.51.100.7")
        assert owner.login("alice").status_code == 303
        assert owner.logout().status_code == 303
        for _ in range(3):
            assert owner.login("alice", "guess!guess!").status_code == 200
        assert owner.login("alice").status_code == 429


def test_a_password_change_revokes_what_browsers_knew(make_app):
    # A browser that logged in with the old password (say a thief's) is not spared any more.
    app = make_app(LOGIN_RATE_LIMIT="3 per minute", PROXY_COUNT=1)
    with app.app_context():
        alice = make_user("alice")
        thief = from_address(app.test_client(), "198.51.100.66")
        assert thief.login("alice").status_code == 303
        assert thief.logout().status_code == 303
        accounts.change_password(alice, PASSWORD, "a brand new passphrase")
        guesser = app.test_client()
        for n in range(3):
            assert from_address(guesser, f"203.0.113.{n}").login("alice", "guess!guess!").status_code == 200
        assert thief.login("alice", "a brand new passphrase").status_code == 429


def test_a_forged_known_browser_cookie_is_ignored(make_app):
    app = make_app(LOGIN_RATE_LIMIT="2 per minute", PROXY_COUNT=1)
    with app.app_context():
        alice = make_user("alice")
        guesser = app.test_client()
        for n in range(2):
            assert from_address(guesser, f"203.0.113.{n}").login("alice", "guess!guess!").status_code == 200
        forger = from_address(app.test_client(), "192.0.2.5")
        forger.client.set_cookie(limits.KNOWN_BROWSER_COOKIE, f"[[{alice.id}, \"0000\"]]", path="/login")
        assert forger.login("alice").status_code == 429


# --- current password in settings --------------------------------------------------------------

def test_current_password_checks_in_settings_are_limited_per_account(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        make_user("alice")
        client = app.test_client()
        actions = Actions(client)
        assert actions.login("alice").status_code == 303
        for _ in range(2):
            response = actions.post("/settings/password", {
                "current_password": "guess!guess!", "new_password": "another passphrase",
                "confirm": "another passphrase"})
            assert "That isn't your current password." in page_text(response)
        response = actions.post("/settings/account", {"email": "thief@example.com", "password": "guess!guess!"})
        assert "That isn't your current password." in page_text(response)
        # The right password now waits too: past the limit no password is checked.
        response = actions.post("/settings/account", {"email": "thief@example.com", "password": PASSWORD})
        assert re.search(r"Too many wrong passwords\. Nothing was changed: try again in \d+ seconds?\.",
                         page_text(response))
        response = actions.post("/settings/password", {
            "current_password": PASSWORD, "new_password": "another passphrase", "confirm": "another passphrase"})
        assert "Too many wrong passwords" in page_text(response)
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        db.session.refresh(alice)
        assert alice.email == "alice@example.com"
        assert accounts.password_matches(alice, PASSWORD)


def test_check_current_password_counts_only_wrong_passwords(make_app):
    app = make_app(LOGIN_RATE_LIMIT="2 per minute")
    with app.test_request_context():
        alice = make_user("alice")
        for _ in range(5):
            accounts.check_current_password(alice, PASSWORD)  # right ones cost nothing
        for _ in range(2):
            with pytest.raises(accounts.AccountError, match="isn't your current password"):
                accounts.check_current_password(alice, "guess!guess!", "password")
        with pytest.raises(accounts.TooManyAttempts) as refused:
            accounts.check_current_password(alice, PASSWORD, "password")
        assert refused.value.field == "password" and 0 < refused.value.retry_after <= 60
        # Another account is not affected.
        accounts.check_current_password(make_user("bob"), PASSWORD)



def test_after_a_password_reset_the_resetting_browser_logs_in(make_app):
    # A guesser keeps the account's count full; the owner follows a reset link (mailed: see
    # test_recovery.py) in a fresh browser, and that browser is then known: the new password works.
    from app.auth import tokens

    app = make_app(LOGIN_RATE_LIMIT="3 per minute", PROXY_COUNT=1)
    with app.test_request_context():
        alice = make_user("alice")
        guesser = app.test_client()
        for n in range(4):
            from_address(guesser, f"203.0.113.{n}").login("alice", "guess!guess!")
        owner = from_address(app.test_client(), "192.0.2.8")
        assert owner.login("alice").status_code == 429
        assert owner.client.get(f"/reset-password/{tokens.reset_token(alice)}").status_code == 303
        response = owner.post("/reset-password", {"password": "a brand new passphrase",
                                                  "confirm": "a brand new passphrase"}, token_from="/reset-password")
        assert response.status_code == 303
        assert owner.login("alice", "a brand new passphrase").status_code == 303
        # Guessing from elsewhere is still stopped.
        assert from_address(guesser, "203.0.113.77").login("alice", "guess!guess!").status_code == 429
