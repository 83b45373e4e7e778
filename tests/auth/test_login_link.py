"""The mailed one-time sign-in link: past the per-account login limit, a browser the account does
not know gets the same 429 page for any password, and the owner's inbox (a real SMTP server,
mail sent by a real RQ worker) gets a link when the password was right."""
from __future__ import annotations

import logging
import re
import time
import types
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest

from app.auth import recovery, sessions, tokens
from app.auth import services as accounts
from app.extensions import db
from app.logs import redact
from app.models import User
from tests.conftest import Actions, csrf_from, mail_config, page_text, run_jobs
from tests.factories import PASSWORD, make_user
from workers import context

LINK_OFFER = "If the password was right, we've e-mailed you a one-time sign-in link"


@pytest.fixture
def mail_app(make_app, smtp, monkeypatch):
    app = make_app(**mail_config(smtp), LOGIN_RATE_LIMIT="3 per minute", PROXY_COUNT=1)
    monkeypatch.setattr(context, "_app", app)  # the worker's jobs run on this app
    with app.app_context():
        yield app


def browser(app, address: str) -> Actions:
    """A browser that has never logged in to anything, at `address`."""
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return Actions(client)


def fill_account_count(app, login: str = "alice") -> None:
    """A guesser uses up the account's count, one address per guess."""
    for n in range(3):
        assert browser(app, f"203.0.113.{n}").login(login, "guess!guess!").status_code == 200
    assert browser(app, "203.0.113.99").login(login, "guess!guess!").status_code == 429


def verified_user(username: str = "alice") -> User:
    user = make_user(username)
    recovery.mark_verified(user)
    return user


def path_of(link: str) -> str:
    return urlsplit(link).path


def comparable(response) -> str:
    """The page with its CSRF token (in the form and in the body's htmx headers) blanked out, and
    the seconds to wait too: the limiter's window ends at the clock plus a whole-second Redis TTL,
    so two answers a moment apart may say 61 and 62 seconds whatever the password."""
    html = response.get_data(as_text=True)
    return re.sub(r"Try again in \d+ seconds", "Try again in N seconds", html.replace(csrf_from(html), "csrf"))


def test_the_owner_on_a_new_browser_follows_the_mailed_link_and_is_then_known(mail_app, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    alice = verified_user()
    fill_account_count(mail_app)
    assert run_jobs(mail_app) == []  # the guesses mailed nothing

    phone = browser(mail_app, "192.0.2.1")
    response = phone.login("alice")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert re.search(LINK_OFFER + r".* Try again in \d+ seconds?\.", page_text(response))
    assert phone.client.get("/dashboard").status_code == 302  # the password alone did not sign in

    jobs = run_jobs(mail_app)
    assert [job.func_name for job in jobs] == ["workers.mail.send_login_link"]
    assert jobs[0].args == (alice.id, "http://localhost")  # an id and the site: never the token
    (message,) = mailbox.to("alice@example.com")
    assert message["Subject"] == "Your sign-in link"
    assert "15 minutes" in message.get_content()
    link = mailbox.link(message)
    assert link.startswith("http://localhost/login-link/")
    token = link.rsplit("/", 1)[1]

    # A mail scanner opening the link uses nothing up: signing in takes the page's button.
    scanner = mail_app.test_client()
    assert scanner.get(path_of(link)).status_code == 303
    assert scanner.get("/login-link").status_code == 200

    opened = phone.client.get(path_of(link))
    assert opened.status_code == 303 and opened.headers["Location"] == "/login-link"
    page = page_text(phone.client.get("/login-link"))
    assert "Sign in with your link" in page and "@alice" in page and token not in page
    assert phone.client.get("/dashboard").status_code == 302
    assert sessions.of_user(alice) == []

    signed_in = phone.post("/login-link", token_from="/login-link")
    assert signed_in.status_code == 303
    assert phone.client.get("/dashboard").status_code == 200
    # Recorded like a password login: a session the owner can end, and the last-login time.
    db.session.expire_all()
    assert len(sessions.of_user(alice)) == 1
    assert db.session.get(User, alice.id).last_login_at is not None

    # This browser is known now: its password login works while the guessing goes on.
    assert phone.logout().status_code == 303
    assert browser(mail_app, "203.0.113.50").login("alice", "guess!guess!").status_code == 429
    assert phone.login("alice").status_code == 303

    # The link worked once: the scanner's session, which holds it too, gets nothing.
    for client in (mail_app.test_client(), scanner):
        again = client.get(path_of(link))
        assert again.status_code == 400 and "This link has been used" in page_text(again)
    assert scanner.post("/login-link", data={}).status_code == 400
    assert scanner.get("/dashboard").status_code == 302

    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records
                       if not r.name.startswith("mail.log"))
    assert "Your sign-in link" in logged and token not in logged


def test_a_wrong_password_gets_the_very_same_page_and_no_mail(mail_app, mailbox):
    verified_user()
    fill_account_count(mail_app)

    wrong = browser(mail_app, "192.0.2.1").login("alice", "not the password")
    assert run_jobs(mail_app) == []
    right = browser(mail_app, "192.0.2.2").login("alice", PASSWORD)
    assert len(run_jobs(mail_app)) == 1

    assert wrong.status_code == right.status_code == 429
    assert abs(int(wrong.headers["Retry-After"]) - int(right.headers["Retry-After"])) <= 1
    assert LINK_OFFER in page_text(wrong)
    assert comparable(wrong) == comparable(right)
    assert [m["To"] for m in mailbox.messages] == ["alice@example.com"]


def test_without_a_verified_address_nothing_is_mailed_and_the_page_is_the_same(mail_app, mailbox):
    make_user("alice")  # its address never verified
    fill_account_count(mail_app)
    right = browser(mail_app, "192.0.2.1").login("alice", PASSWORD)
    wrong = browser(mail_app, "192.0.2.2").login("alice", "not the password")
    assert right.status_code == 429 and LINK_OFFER in page_text(right)
    assert comparable(wrong) == comparable(right)
    assert run_jobs(mail_app) == [] and mailbox.messages == []


def test_sign_in_link_mails_are_limited_per_account(mail_app, mailbox):
    verified_user()
    fill_account_count(mail_app)
    for n in range(5):
        response = browser(mail_app, f"192.0.2.{n}").login("alice", PASSWORD)
        assert response.status_code == 429 and LINK_OFFER in page_text(response)
    run_jobs(mail_app)
    assert len(mailbox.to("alice@example.com")) == 3  # limits.LOGIN_LINK_MAIL_LIMIT


def test_past_its_own_address_limit_a_browser_gets_no_password_check_and_no_mail(mail_app, mailbox):
    verified_user()
    fill_account_count(mail_app)
    phone = browser(mail_app, "192.0.2.1")
    for _ in range(3):  # 429s past the account's limit count against the address too
        assert phone.login("alice", "guess!guess!").status_code == 429
    response = phone.login("alice", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins. Try again" in page_text(response) and LINK_OFFER not in page_text(response)
    assert run_jobs(mail_app) == []


def test_an_expired_link_is_refused(mail_app, monkeypatch):
    alice = verified_user()
    sixteen_minutes_ago = time.time() - 16 * 60
    with monkeypatch.context() as clock:
        clock.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: sixteen_minutes_ago))
        token = tokens.login_link_token(alice)
    client = mail_app.test_client()
    response = client.get(f"/login-link/{token}")
    assert response.status_code == 400
    assert "This link has expired" in page_text(response) and "15 minutes" in page_text(response)
    assert client.get("/dashboard").status_code == 302


def test_an_opened_link_expires_before_its_button_is_pressed(mail_app, monkeypatch):
    alice = verified_user()
    actions = browser(mail_app, "192.0.2.1")
    assert actions.client.get(f"/login-link/{tokens.login_link_token(alice)}").status_code == 303
    csrf = csrf_from(actions.client.get("/login-link").get_data(as_text=True))
    later = time.time() + 16 * 60
    with monkeypatch.context() as clock:
        clock.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: later))
        response = actions.client.post("/login-link", data={"csrf_token": csrf})
    assert response.status_code == 400 and "This link has expired" in page_text(response)
    assert actions.client.get("/dashboard").status_code == 302


def test_a_password_change_kills_a_sign_in_link_even_one_already_opened(mail_app, login):
    alice = verified_user()
    token = tokens.login_link_token(alice)
    opened = browser(mail_app, "192.0.2.1")
    assert opened.client.get(f"/login-link/{token}").status_code == 303
    assert opened.client.get("/login-link").status_code == 200

    accounts.change_password(alice, PASSWORD, "a brand new passphrase")

    response = mail_app.test_client().get(f"/login-link/{token}")
    assert response.status_code == 400 and "This link has been used" in page_text(response)
    posted = opened.client.post("/login-link", data={})
    assert posted.status_code == 400
    assert opened.client.get("/dashboard").status_code == 302


def test_any_login_uses_an_outstanding_link_up(mail_app, login):
    alice = verified_user()
    token = tokens.login_link_token(alice)
    login("alice")
    response = mail_app.test_client().get(f"/login-link/{token}")
    assert response.status_code == 400 and "This link has been used" in page_text(response)


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: token[: len(token) // 2],
    lambda token: "x" + token,
])
def test_a_tampered_link_is_refused(mail_app, tamper):
    alice = verified_user()
    client = mail_app.test_client()
    response = client.get(f"/login-link/{tamper(tokens.login_link_token(alice))}")
    assert response.status_code == 400 and "This link isn't valid" in page_text(response)
    assert client.post("/login-link", data={}).status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_other_links_are_no_sign_in_links(mail_app):
    alice = verified_user()
    client = mail_app.test_client()
    for token in (tokens.reset_token(alice), tokens.verify_token(alice)):
        assert client.get(f"/login-link/{token}").status_code == 400
    assert client.get(f"/reset-password/{tokens.login_link_token(alice)}").status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_a_disabled_account_gets_no_link_and_its_links_do_not_work(mail_app, mailbox):
    alice = verified_user()
    token = tokens.login_link_token(alice)
    accounts.set_disabled(alice, True)
    fill_account_count(mail_app)
    response = browser(mail_app, "192.0.2.1").login("alice", PASSWORD)
    assert response.status_code == 429 and LINK_OFFER in page_text(response)
    assert run_jobs(mail_app) == []
    assert mail_app.test_client().get(f"/login-link/{token}").status_code == 400


def test_refused_links_count_against_the_address(mail_app):
    alice = verified_user()
    prober = browser(mail_app, "198.51.100.9")
    for n in range(3):
        assert prober.client.get(f"/login-link/not-a-token-{n}").status_code == 400
    assert prober.client.get(f"/login-link/{tokens.login_link_token(alice)}").status_code == 429
    # Another address is not affected.
    assert browser(mail_app, "198.51.100.10").client.get(
        f"/login-link/{tokens.login_link_token(alice)}").status_code == 303


def test_access_logs_mask_the_link_token(tmp_path):
    from app.deploy.nginx import render_nginx_conf, settings_from_config
    from tests.deploy.test_nginx_conf import app_config

    assert redact('"GET /login-link/abc.DEF-123_x HTTP/1.1"') == '"GET /login-link/[token] HTTP/1.1"'
    assert redact("GET /login-link HTTP/1.1") == "GET /login-link HTTP/1.1"
    conf = render_nginx_conf(settings_from_config(app_config(tmp_path), tmp_path / "nginx"))
    assert "login\\-link" in conf or "login-link" in conf
