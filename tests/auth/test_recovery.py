"""Forgot password and email verification, through a real SMTP server and a real RQ worker:
the mail is read from the server, its link followed with the test client."""
from __future__ import annotations

import logging
import time
import types
import uuid
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
from rq import Queue, SimpleWorker

from app.auth import recovery, tokens
from app.extensions import db, get_redis
from app.models import User
from tests.conftest import Actions, csrf_from, mail_config, page_text, run_jobs
from tests.factories import PASSWORD, make_user
from tests.mailserver import Mailbox
from workers import context

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def mail_app(make_app, smtp, monkeypatch):
    app = make_app(**mail_config(smtp), MAIL_USERNAME="mailer", MAIL_PASSWORD="smtp-secret-pass")
    monkeypatch.setattr(context, "_app", app)  # the worker's jobs run on this app
    with app.app_context():
        yield app


def logged_in(app, username: str):
    client = app.test_client()
    assert Actions(client).login(username, PASSWORD).status_code == 303
    return client


def path_of(link: str) -> str:
    return urlsplit(link).path


def ask_for_reset(client, email: str):
    return Actions(client).post("/forgot-password", {"email": email})


def test_forgot_password_mails_a_single_use_link_that_resets_the_password(mail_app, mailbox, login, caplog):
    caplog.set_level(logging.DEBUG)
    alice = make_user("alice")
    elsewhere = login("alice")  # another device, logged in before the reset
    client = mail_app.test_client()
    assert "/forgot-password" in client.get("/login").get_data(as_text=True)

    response = ask_for_reset(client, "Alice@Example.com")
    assert response.status_code == 303 and response.headers["Location"] == "/forgot-password/sent"
    assert "If an account uses that address" in page_text(client.get("/forgot-password/sent"))
    jobs = run_jobs(mail_app)
    assert [job.func_name for job in jobs] == ["workers.mail.send_password_reset"]
    assert jobs[0].args == (alice.id, "http://localhost")  # an id and the site: never the token

    (message,) = mailbox.to("alice@example.com")
    assert message["Subject"] == "Reset your password"
    assert message["From"] == "Cascade Live <noreply@live.test>"
    assert mailbox.logins == [("mailer", "smtp-secret-pass")]
    link = mailbox.link(message)
    assert link.startswith("http://localhost/reset-password/")
    token = link.rsplit("/", 1)[1]
    # Neither the link nor the SMTP password reaches a log line of ours or the worker's (the
    # test SMTP server's own debug log, which prints what it receives, is left out).
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records
                       if not r.name.startswith("mail.log"))
    assert "Job OK" in logged and "Reset your password" in logged
    assert token not in logged and "smtp-secret-pass" not in logged

    # The link moves its token into the session: the form's own address has no secret in it.
    response = client.get(path_of(link))
    assert response.status_code == 303 and response.headers["Location"] == "/reset-password"
    page = page_text(client.get("/reset-password"))
    assert "Choose a new password" in page and "@alice" in page and token not in page

    # The signup rules apply; a refused password changes nothing and keeps the link good.
    weak = Actions(client).post("/reset-password", {"password": "password123", "confirm": "password123"})
    assert weak.status_code == 200 and "commonly used passwords" in page_text(weak)
    db.session.expire_all()
    assert db.session.get(User, alice.id).password_hash == alice.password_hash

    done = Actions(client).post("/reset-password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert "Your password has been changed" in page_text(client.get("/login"))

    # Every other login ended; the old password is refused and the new one works.
    assert elsewhere.get("/dashboard").status_code == 302
    assert Actions(mail_app.test_client()).login("alice", PASSWORD).status_code == 200
    assert Actions(client).login("alice", NEW_PASSWORD).status_code == 303
    # Following the mailed link proved the address too.
    db.session.expire_all()
    assert db.session.get(User, alice.id).email_verified

    # The link works once.
    again = mail_app.test_client().get(path_of(link))
    assert again.status_code == 400
    assert "This link has been used" in page_text(again)
    assert "Send me a new link" in page_text(again)


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(mail_app, mailbox):
    make_user("alice")
    make_user("carol", disabled=True)
    answers = []
    for email in ("alice@example.com", "nobody@example.com", "carol@example.com"):
        client = mail_app.test_client()
        response = ask_for_reset(client, email)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        main = page[page.index("<main"):page.index("</main>")]  # the header holds a per-browser token
        answers.append((response.status_code, response.headers["Location"], main))
    assert answers[0] == answers[1] == answers[2]
    run_jobs(mail_app)
    assert [m["To"] for m in mailbox.messages] == ["alice@example.com"]  # not a disabled account


def test_a_malformed_address_is_refused_in_the_form(mail_app, mailbox):
    client = mail_app.test_client()
    response = ask_for_reset(client, "not an address")
    assert response.status_code == 200
    assert "doesn't look like an email address" in page_text(response)
    assert run_jobs(mail_app) == []


def test_asking_for_reset_mails_is_rate_limited_per_address(mail_app):
    make_user("alice")
    for _ in range(25):  # a form sent back with an error costs nothing (20 per asker's address)
        assert ask_for_reset(mail_app.test_client(), "alice@").status_code == 200
    for _ in range(5):
        assert ask_for_reset(mail_app.test_client(), "alice@example.com").status_code == 303
    limited = ask_for_reset(mail_app.test_client(), "alice@example.com")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    text = page_text(limited)
    assert "new ones wait a while. Try again in" in text and 'value="alice@example.com"' in text
    assert len(run_jobs(mail_app)) == 5


def test_an_expired_link_is_refused_with_a_page_that_says_so(mail_app, monkeypatch):
    alice = make_user("alice")
    two_hours_ago = time.time() - 2 * 3600
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: two_hours_ago))
    token = tokens.reset_token(alice)
    monkeypatch.undo()
    response = mail_app.test_client().get(f"/reset-password/{token}")
    assert response.status_code == 400
    assert "This link has expired" in page_text(response) and "one hour" in page_text(response)


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: token[: len(token) // 2],
    lambda token: "x" + token,
])
def test_a_tampered_link_is_refused_and_sets_nothing(mail_app, tamper):
    alice = make_user("alice")
    client = mail_app.test_client()
    response = client.get(f"/reset-password/{tamper(tokens.reset_token(alice))}")
    assert response.status_code == 400 and "This link isn't valid" in page_text(response)
    # Without a good link in the session, the form is not there to post to either.
    posted = client.post("/reset-password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert posted.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, alice.id).password_hash == alice.password_hash


def test_a_password_change_kills_an_outstanding_reset_link(mail_app, login):
    alice = make_user("alice")
    token = tokens.reset_token(alice)
    me = login("alice")
    changed = Actions(me).post("/settings/password", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert changed.status_code == 303
    response = mail_app.test_client().get(f"/reset-password/{token}")
    assert response.status_code == 400 and "This link has been used" in page_text(response)


def test_without_mail_server_the_job_logs_that_mail_is_not_configured(make_app, monkeypatch, caplog):
    app = make_app(MAIL_SERVER="")
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        alice = make_user("alice")
        caplog.set_level(logging.INFO)
        from workers import mail as mail_jobs

        assert mail_jobs.send_password_reset(alice.id, "http://localhost:8080") is False
        assert "mail is not configured" in caplog.text and "Reset your password" in caplog.text
        assert "reset-password" not in caplog.text  # the link (and its token) is never logged
        # The page answers as usual.
        assert ask_for_reset(app.test_client(), "alice@example.com").status_code == 303


def test_links_use_mail_site_url_when_it_is_set(make_app, smtp, monkeypatch):
    host, port, mailbox = smtp
    app = make_app(RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}", MAIL_SERVER=host, MAIL_PORT=port,
                   MAIL_SITE_URL="https://live.example.org")
    monkeypatch.setattr(context, "_app", app)
    with app.app_context():
        make_user("alice")
        # A forged Host header does not choose where the link points.
        ask_for_reset(app.test_client(), "alice@example.com")
        client = app.test_client()
        forged = {"Host": "evil.example"}
        csrf = csrf_from(client.get("/forgot-password", headers=forged).get_data(as_text=True))
        response = client.post("/forgot-password", data={"email": "alice@example.com", "csrf_token": csrf},
                               headers=forged)
        assert response.status_code == 303
        run_jobs(app)
        links = [Mailbox.link(m) for m in mailbox.to("alice@example.com")]
        assert len(links) == 2
        assert all(link.startswith("https://live.example.org/reset-password/") for link in links)
        assert mailbox.messages[0]["From"] == "Cascade Live <no-reply@live.example.org>"


# Email verification


def test_signup_mails_a_verification_link(mail_app, mailbox):
    actions = Actions(mail_app.test_client())
    assert actions.signup("alice").status_code == 303
    run_jobs(mail_app)
    (message,) = mailbox.to("alice@example.com")
    assert message["Subject"] == "Confirm your email address"
    client = actions.client
    page = page_text(client.get("/settings/account"))
    assert "Not verified" in page and "Resend verification email" in page

    response = mail_app.test_client().get(path_of(mailbox.link(message)))  # e.g. on the phone
    assert response.status_code == 200 and "Email verified" in page_text(response)
    page = page_text(client.get("/settings/account"))
    assert "Verified" in page and "Not verified" not in page and "Resend verification email" not in page
    # Following it again is harmless.
    assert client.get(path_of(mailbox.link(message))).status_code == 200


def test_resend_verification_mails_again_and_is_rate_limited(mail_app, mailbox):
    make_user("alice")
    me = logged_in(mail_app, "alice")
    for _ in range(3):
        response = Actions(me).post("/settings/account/verification", token_from="/settings/account")
        assert response.status_code == 303
    assert "We sent a new verification link to alice@example.com" in page_text(me.get("/settings/account"))
    assert Actions(me).post("/settings/account/verification", token_from="/settings/account").status_code == 429
    run_jobs(mail_app)
    assert len(mailbox.to("alice@example.com")) == 3


def test_a_new_address_needs_verifying_again(mail_app, mailbox):
    alice = make_user("alice")
    recovery.mark_verified(alice)
    old_link_token = tokens.verify_token(alice)
    me = logged_in(mail_app, "alice")
    response = Actions(me).post("/settings/account", {"email": "alice@new.example", "password": PASSWORD})
    assert response.status_code == 303
    assert "We sent a link to alice@new.example to verify it" in page_text(me.get("/settings/account"))
    db.session.expire_all()
    assert not db.session.get(User, alice.id).email_verified
    run_jobs(mail_app)
    (message,) = mailbox.to("alice@new.example")

    old = me.get(f"/verify-email/{old_link_token}")
    assert old.status_code == 400 and "This link is for an old address" in page_text(old)
    assert me.get(path_of(mailbox.link(message))).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, alice.id).email_verified


def test_saving_the_same_address_keeps_it_verified_and_mails_nothing(mail_app, mailbox):
    alice = make_user("alice")
    recovery.mark_verified(alice)
    me = logged_in(mail_app, "alice")
    response = Actions(me).post("/settings/account", {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, alice.id).email_verified
    assert run_jobs(mail_app) == []


def test_a_tampered_verification_link_changes_nothing(mail_app):
    alice = make_user("alice")
    token = tokens.verify_token(alice)
    response = mail_app.test_client().get(f"/verify-email/{token[:-3]}abc")
    assert response.status_code == 400 and "This link isn't valid" in page_text(response)
    # A reset token is no verification token (and the other way round).
    assert mail_app.test_client().get(f"/verify-email/{tokens.reset_token(alice)}").status_code == 400
    assert mail_app.test_client().get(f"/reset-password/{token}").status_code == 400
    db.session.expire_all()
    assert not db.session.get(User, alice.id).email_verified


def test_a_mail_the_smtp_server_refused_is_sent_when_it_is_back(mail_app, smtp):
    """The SMTP server away (here: nothing listening on its port) delays the mail, never loses it:
    RQ tries the failed job again later, and then it goes out."""
    from tests.ports import free_port

    host, port, mailbox = smtp
    make_user("alice")
    mail_app.config["MAIL_PORT"] = free_port()  # refused
    ask_for_reset(mail_app.test_client(), "alice@example.com")
    queue = Queue(mail_app.config["RQ_QUEUE"], connection=get_redis())
    (job_id,) = queue.job_ids
    SimpleWorker([queue], connection=get_redis()).work(burst=True)
    job = queue.fetch_job(job_id)
    assert job.get_status() == "scheduled" and job.retries_left == 4  # tried again in 10 s
    assert mailbox.messages == []

    mail_app.config["MAIL_PORT"] = port  # back
    registry = queue.scheduled_job_registry
    registry.remove(job)  # its time has come (RQ's scheduler would move it in 10 s)
    queue.enqueue_job(job)
    SimpleWorker([queue], connection=get_redis()).work(burst=True)
    assert queue.fetch_job(job_id).is_finished
    assert [message["Subject"] for message in mailbox.messages] == ["Reset your password"]
