"""Signup: the happy path and every way it refuses, with nothing stored on refusal."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Channel, Profile, User
from tests.conftest import page_text
from tests.factories import make_user


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_signup_creates_user_profile_and_channel_and_logs_in(client, actions):
    response = actions.signup("Alice_1")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard")
    user = db.session.scalar(select(User).where(User.username_lower == "alice_1"))
    assert user.username == "Alice_1"
    assert user.email == "alice_1@example.com"
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    assert user.profile is not None
    assert user.channel.slug == "alice_1"
    assert user.channel.stream_key_hash is None
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert b"Create stream key" in page.data


def test_signup_page_renders_form(client):
    page = client.get("/signup").get_data(as_text=True)
    for name in ("username", "email", "password", "confirm", "birth_date", "csrf_token"):
        assert f'name="{name}"' in page
    assert '<label for="username">' in page


@pytest.mark.parametrize("username, message", [
    ("ab", "3–25 characters"),
    ("bad name", "3–25 characters"),
    ("_leading", "3–25 characters"),
    ("x" * 26, "25"),
    ("admin", "reserved"),
    ("Settings", "reserved"),
    ("<script>", "3–25 characters"),
])
def test_signup_refuses_bad_usernames(actions, username, message):
    response = actions.signup(username, email="someone@example.com")
    assert response.status_code == 200
    assert message in page_text(response)
    assert "<script>" not in response.get_data(as_text=True)
    assert count(User) == 0


@pytest.mark.both_databases  # unique columns
def test_signup_refuses_duplicate_username_ignoring_case(actions, app):
    make_user("alice")
    response = actions.signup("ALICE", email="other@example.com")
    assert response.status_code == 200
    assert "That username is taken." in page_text(response)
    assert count(User) == 1
    assert count(Channel) == 1


@pytest.mark.both_databases  # unique columns
def test_signup_refuses_duplicate_email_ignoring_case(actions):
    make_user("alice", email="alice@example.com")
    response = actions.signup("bob", email="Alice@Example.com")
    assert "An account with that email already exists" in page_text(response)
    assert count(User) == 1


@pytest.mark.parametrize("password, message", [
    ("short", "at least 10 characters"),
    ("password123", "commonly used passwords"),
    ("qwertyuiop", "commonly used passwords"),
    ("aaaaaaaaaaaa", "repetitive"),
    ("alice_pass", None),
])
def test_signup_password_rules(actions, password, message):
    response = actions.signup("alice", password=password)
    if message is None:
        assert response.status_code == 303
        assert count(User) == 1
    else:
        assert response.status_code == 200
        assert message in page_text(response)
        assert count(User) == 0


def test_signup_refuses_password_mismatch(actions):
    response = actions.post("/signup", {
        "username": "alice", "email": "a@example.com", "password": "correct horse battery",
        "confirm": "correct horse battery!", "birth_date": "1990-01-01"})
    assert "The passwords don't match." in page_text(response)
    assert count(User) == 0


def test_signup_refuses_under_13_with_clear_message(actions):
    twelve = date.today().replace(year=date.today().year - 12)
    response = actions.signup("kiddo", birth_date=twelve.isoformat())
    assert response.status_code == 200
    assert "you must be at least 13 years old" in page_text(response)
    assert count(User) == 0
    assert count(Profile) == 0


def test_signup_accepts_exactly_13(actions):
    thirteen = date.today().replace(year=date.today().year - 13)
    assert actions.signup("teen", birth_date=thirteen.isoformat()).status_code == 303


@pytest.mark.parametrize("birth_date, message", [
    ("", "Please enter your date of birth."),
    ((date.today() + timedelta(days=1)).isoformat(), "real date of birth"),
    ("1850-01-01", "real date of birth"),
])
def test_signup_requires_a_real_birth_date(actions, birth_date, message):
    response = actions.signup("alice", birth_date=birth_date)
    assert message in page_text(response)
    assert count(User) == 0


def test_signup_refuses_bad_email(actions):
    response = actions.signup("alice", email="not-an-email")
    assert response.status_code == 200
    assert "An email address must have an @-sign." in page_text(response)
    assert count(User) == 0


def test_signup_without_csrf_token_is_refused(client):
    response = client.post("/signup", data={
        "username": "alice", "email": "a@example.com", "password": "correct horse battery",
        "confirm": "correct horse battery", "birth_date": "1990-01-01"})
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)
    assert count(User) == 0


def test_signup_is_rate_limited(make_app):
    from tests.conftest import Actions

    app = make_app(SIGNUP_RATE_LIMIT="2 per hour")
    with app.app_context():
        actions = Actions(app.test_client())
        assert actions.signup("first").status_code == 303
        actions.client.delete_cookie("session")
        assert actions.signup("second").status_code == 303
        actions.client.delete_cookie("session")
        response = actions.signup("third")
        assert response.status_code == 429
        assert "Many accounts were just made from your network" in page_text(response)
        assert count(User) == 2


def test_logged_in_user_visiting_signup_goes_to_dashboard(client, actions):
    actions.signup("alice")
    response = client.get("/signup")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
