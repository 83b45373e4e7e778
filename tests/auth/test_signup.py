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


def years_ago(years: int, today: date | None = None) -> date:
    today = today or date.today()
    return today.replace(year=today.year - years) if (today.month, today.day) != (2, 29) \
        else date(today.year - years, 3, 1)


def test_the_age_screen_is_neutral(client):
    """Nothing on the form says which age the site takes (a child would just type another date)."""
    page = page_text(client.get("/signup"))
    assert 'type="date"' in page and "Checked once and not kept" in page
    for hint in ("13 or older", "at least 13", "13+", "years old"):
        assert hint not in page


def test_under_13_is_refused_for_good_from_that_browser(client, actions, app):
    response = actions.signup("kiddo", birth_date=years_ago(12).isoformat())
    assert response.status_code == 403
    assert "Sorry, you can't create an account here. Nothing you entered was kept." in page_text(response)
    assert "kiddo" not in page_text(response)  # nothing typed comes back
    assert count(User) == 0 and count(Profile) == 0
    # Back to the form with an older date: not from this browser.
    again = client.get("/signup")
    assert again.status_code == 403 and 'name="birth_date"' not in page_text(again)
    assert actions.post("/signup", {"username": "kiddo", "email": "k@example.com",
                                    "password": "correct horse battery", "confirm": "correct horse battery",
                                    "birth_date": "1990-01-01"}, token_from="/login").status_code == 403
    assert count(User) == 0
    # The mark is signed: a cookie made up elsewhere does not lock anyone out.
    other = app.test_client()
    other.set_cookie("signup_refused", "1")
    assert other.get("/signup").status_code == 200


def test_a_mistake_elsewhere_in_the_form_comes_first(actions):
    """A child whose form also has another error is told about that one, not refused yet."""
    response = actions.signup("kiddo", password="short", birth_date=years_ago(12).isoformat())
    assert response.status_code == 200 and "At least 10 characters" in page_text(response)


def test_exactly_13_signs_up_and_only_the_month_of_coming_of_age_is_kept(actions):
    thirteen = years_ago(13)
    assert actions.signup("teen", birth_date=thirteen.isoformat()).status_code == 303
    user = db.session.scalar(select(User).where(User.username_lower == "teen"))
    month = thirteen.month % 12 + 1
    assert user.adult_from == date(thirteen.year + 18 + (thirteen.month == 12), month, 1)
    assert user.is_minor()
    assert not hasattr(user, "birth_date")


def test_an_adult_keeps_nothing_of_the_date(actions):
    assert actions.signup("grownup", birth_date="1990-04-01").status_code == 303
    user = db.session.scalar(select(User).where(User.username_lower == "grownup"))
    assert user.adult_from is None and not user.is_minor()


def test_coming_of_age_is_the_first_of_the_month_after_the_18th_birthday():
    from app.auth.age import adult_from

    assert adult_from(date(2010, 12, 31), today=date(2026, 12, 7)) == date(2029, 1, 1)
    assert adult_from(date(2010, 3, 15), today=date(2026, 12, 7)) == date(2028, 4, 1)
    assert adult_from(date(2008, 12, 7), today=date(2026, 12, 7)) is None  # 18 today


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
