"""No impersonation: usernames and display names that look like another member's, like a staff
title or like nothing at all are refused at signup and in the profile editor."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.auth import names
from app.auth import services as accounts
from app.config import Config
from app.extensions import db
from app.models import Profile, User
from app.models.user import NameKey
from tests.conftest import Actions, page_text
from tests.factories import make_user


@pytest.fixture
def app(make_app):
    """The site's own staff words ("streamer" too, which the rest of the suite uses as a name)."""
    app = make_app(STAFF_WORDS=Config.STAFF_WORDS)
    with app.app_context():
        yield app


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def edit_display_name(client, name: str):
    return Actions(client).post("/settings/profile", {"display_name": name, "bio": ""})


# --- the table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("one, other", [
    ("admin", "\u0430dmin"),          # Cyrillic а
    ("paypal", "paypa1"),             # DIGIT ONE → l
    ("paypal", "paypaI"),             # CAPITAL I → l
    ("mallory", "rnallory"),          # m → rn
    ("alice", "ALICE"),
    ("alice", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e"),  # mathematical bold
    ("admin", "\uff41\uff44\uff4d\uff49\uff4e"),  # fullwidth
    ("bob", "B0B"),                   # DIGIT ZERO → O, then case
    ("bob", "bo\u200bb"),             # a zero-width space inside
])
def test_confusable_names_share_a_key(one, other):
    assert names.name_keys(one) & names.name_keys(other)


@pytest.mark.parametrize("one, other", [("alice", "alicia"), ("bob", "rob"), ("café", "cafe"), ("mod", "modern")])
def test_different_names_share_no_key(one, other):
    assert not names.name_keys(one) & names.name_keys(other)


def test_the_table_is_unicodes_confusables_file():
    table = names._prototypes()
    assert len(table) > 6000  # confusables.txt maps over six thousand characters
    assert table[ord("\u0430")] == "a" and table[ord("1")] == "l" and table[ord("m")] == "rn"


# --- signup ------------------------------------------------------------------------------------

@pytest.mark.parametrize("existing, attempt", [
    ("paypal", "paypa1"), ("paypal", "PaypaI"), ("mallory", "rnallory"), ("billy", "bi11y"),
])
def test_signup_refuses_a_username_that_looks_like_another_members(actions, existing, attempt):
    make_user(existing)
    response = actions.signup(attempt)
    assert response.status_code == 200
    assert f"That name looks too much like @{existing}" in page_text(response)
    assert count_users() == 1


@pytest.mark.parametrize("username, word", [
    ("mod_squad", "mod"), ("site_admin", "admin"), ("Staff_Picks", "staff"), ("the_streamer", "streamer"),
    ("system_bot", "system"), ("CascadeLive", "Cascade Live"), ("cascade_live_tv", "Cascade Live"),
    ("Administrator_1", "administrator"), ("AdmIn_Team", "admin"),
])
def test_signup_refuses_staff_words(actions, username, word):
    response = actions.signup(username)
    assert response.status_code == 200
    assert f"Names can't contain “{word}”" in page_text(response)
    assert count_users() == 0


@pytest.mark.parametrize("username", ["modern_art", "modern_music", "Admiral", "commodity", "Modena"])
def test_signup_accepts_short_staff_words_inside_other_words(actions, username):
    assert actions.signup(username).status_code == 303


@pytest.mark.parametrize("username, word", [
    ("ADMlN", "admin"), ("Admin1", "admin"), ("TheStreamer", "streamer"), ("OfficialAdmin", "admin"),
    ("ModeratorBot", "moderator"), ("SupportDesk", "support"), ("theadmin", "admin"),
    ("ModSquad", "mod"), ("m0d_anna", "mod"), ("mod1", "mod"),
])
def test_signup_refuses_staff_words_run_into_other_words(actions, username, word):
    # Five letters and more count anywhere, "mod" as a word of its own (app.auth.names).
    response = actions.signup(username)
    assert response.status_code == 200
    assert f"Names can't contain “{word}”" in page_text(response)
    assert count_users() == 0


@pytest.mark.parametrize("existing, attempt", [("alice", "ALlCE"), ("ninja", "NlNJA"), ("alice", "ALlCe")])
def test_signup_refuses_a_small_l_among_capitals(actions, existing, attempt):
    # In capitals a small l draws as an I: "ALlCE" is "ALICE", which is alice.
    make_user(existing)
    response = actions.signup(attempt)
    assert response.status_code == 200
    assert f"That name looks too much like @{existing}" in page_text(response)
    assert count_users() == 1


@pytest.mark.parametrize("existing, attempt", [
    ("alice", "Alice2"), ("ninja", "ninja_fan"), ("mila", "Mila_b"), ("lily", "illy"),
])
def test_ordinary_names_beside_others_still_sign_up(actions, existing, attempt):
    make_user(existing)
    assert actions.signup(attempt).status_code == 303, attempt


@pytest.mark.parametrize("existing, name", [
    ("milan", "Mila"), ("nguyen", "Nguyễn Văn"), ("dmitry", "Дмитрий"), ("olga", "Ольга К"),
])
def test_ordinary_display_names_are_not_lookalikes(app, existing, name):
    # Usernames are ASCII; display names take any script, and only lookalikes are refused.
    make_user(existing)
    assert names.name_problem(name) is None


def test_staff_words_and_site_name_are_settings(make_app):
    app = make_app(STAFF_WORDS="ranger, warden", SITE_NAME="Otter TV")
    with app.app_context():
        actions = Actions(app.test_client())
        for refused in ("ranger_rick", "OtterTV", "otter_tv_clips"):
            assert "Names can't contain" in page_text(actions.signup(refused)), refused
        assert actions.signup("admin_x").status_code == 303  # not a staff word on this site
        assert count_users() == 1


def test_admins_made_from_the_shell_may_use_staff_words(app):
    admin = accounts.create_account("mod_anna", "anna@example.com", "correct horse battery", None,
                                    admin=True, check_age=False)
    assert admin.is_admin
    with pytest.raises(accounts.AccountError, match="Names can't contain"):
        accounts.create_account("mod_ben", "ben@example.com", "correct horse battery", date(1990, 1, 1))


def test_a_new_account_keeps_its_name_keys(app):
    alice = make_user("alice")
    stored = set(db.session.scalars(select(NameKey.key).where(NameKey.user_id == alice.id)))
    assert stored == names.name_keys("alice")


# --- display names -----------------------------------------------------------------------------

@pytest.fixture
def bob_client(app, login):
    make_user("alice")
    make_user("bob")
    return login("bob")


def bobs_display_name() -> str | None:
    return db.session.scalar(select(Profile.display_name).join(User).where(User.username == "bob"))


@pytest.mark.parametrize("name, message", [
    ("\u0430lice", "That name looks too much like @alice"),   # Cyrillic а
    ("ALICE", "That name looks too much like @alice"),
    ("A l i c e".replace(" ", "\u200b"), "That name looks too much like @alice"),
    ("\U0001d400\U0001d425\U0001d422\U0001d41c\U0001d41e", "That name looks too much like @alice"),
    ("\u0410dmin", "Names can't contain “admin”"),             # Cyrillic А
    ("Chat Moderator", "Names can't contain “moderator”"),
    ("Cascade Live", "Names can't contain “Cascade Live”"),
    ("Streamer", "Names can't contain “streamer”"),
    ("\u3164", "That name shows nothing"),                      # Hangul filler
    ("\u2800\u2800\u2800", "That name shows nothing"),          # blank braille
    ("\u200b\u200b", "That name shows nothing"),                # zero-width spaces
])
def test_profile_refuses_display_names_that_impersonate_or_show_nothing(app, bob_client, name, message):
    assert edit_display_name(bob_client, "Bobby").status_code == 303
    response = edit_display_name(bob_client, name)
    assert response.status_code == 200
    assert message in page_text(response)
    assert bobs_display_name() == "Bobby"  # nothing changed


@pytest.mark.parametrize("name", ["BOB", "Bob the Builder", "Modern Mike", "Zoë", "🎮 Bob"])
def test_profile_accepts_own_and_ordinary_names(app, bob_client, name):
    assert edit_display_name(bob_client, name).status_code == 303
    assert bobs_display_name() == name


def test_profile_refusal_is_shown_in_the_htmx_fragment(app, bob_client):
    response = Actions(bob_client).post("/settings/profile", {"display_name": "\u0430lice", "bio": ""},
                                        headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "That name looks too much like @alice" in page_text(response)
    assert "<html" not in response.get_data(as_text=True)


def test_a_display_name_reserves_its_lookalikes_until_it_changes(app, bob_client):
    assert edit_display_name(bob_client, "Zedgamer").status_code == 303
    signup = Actions(app.test_client())
    for attempt in ("zedgamer", "ZEDGARNER"):  # the same name, and m drawn as rn
        assert "That name looks too much like @bob" in page_text(signup.signup(attempt)), attempt
    assert edit_display_name(bob_client, "Bob B").status_code == 303
    assert signup.signup("zedgamer").status_code == 303


def test_an_admin_may_call_themselves_staff(app, login):
    make_user("root_admin", admin=True)
    client = login("root_admin")
    assert edit_display_name(client, "Site Staff").status_code == 303


def test_an_old_display_name_does_not_block_saving_the_bio(app, bob_client):
    # A name given before these rules (here: straight into the database) stays while the bio changes.
    profile = db.session.scalar(select(Profile).join(User).where(User.username == "bob"))
    profile.display_name = "Alice"
    db.session.commit()
    response = Actions(bob_client).post("/settings/profile", {"display_name": "Alice", "bio": "hello"})
    assert response.status_code == 303
