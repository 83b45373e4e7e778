"""The legal pages (issue 17 part 8): terms, privacy and copyright pages filled from the settings,
versions published by site admins (form and `flask legal`) with effective dates, every earlier
version readable, members told of new ones, links in the footer and at signup."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.legal import services
from app.models import LegalDocument, utcnow
from tests.conftest import Actions, page_text
from tests.factories import make_user

UNSET = "[not yet set by this site's operator]"


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(LegalDocument))


def publish_form(client, kind="terms", *, body="# Rules\n\nBe kind.", summary="Shorter rules.",
                 effective: date | None = None):
    return Actions(client).post(f"/legal/{kind}/publish", {
        "body": body, "summary": summary, "effective_at": (effective or utcnow().date()).isoformat()})


@pytest.fixture
def admin(login):
    make_user("root", admin=True)
    return login("root")


@pytest.mark.parametrize("kind, title, words", [
    ("terms", "Terms of Service", "You must be at least 13 years old"),
    ("privacy", "Privacy Policy", "Only the cookies the site needs"),
    ("dmca", "Copyright (DMCA) Policy", "under penalty of perjury"),
])
def test_each_page_shows_the_shipped_default_until_one_is_published(client, kind, title, words):
    page = page_text(client.get(f"/legal/{kind}"))
    assert f"<h1>{title}</h1>" in page and words in page
    assert "has not published their own yet" in page
    assert UNSET in page  # the operator and contact address are not set: said so, not left blank


def test_unknown_pages_are_404(client):
    assert client.get("/legal/cookies").status_code == 404
    assert client.get("/legal/cookies/versions").status_code == 404
    assert client.get("/legal/terms/versions/7").status_code == 404


def test_settings_fill_the_placeholders(app, client):
    app.config.update(LEGAL_OPERATOR="Hilltop Radio Club", LEGAL_CONTACT_EMAIL="legal@hilltop.example",
                      VOD_RETENTION_DAYS=14, SITE_NAME="Hilltop Live")
    terms = page_text(client.get("/legal/terms"))
    assert "between you and Hilltop Radio Club, who runs Hilltop Live" in terms
    assert "Questions: legal@hilltop.example." in terms and UNSET not in terms
    privacy = page_text(client.get("/legal/privacy"))
    assert "Recordings of broadcasts: deleted 14 days after the broadcast" in privacy
    # A login nobody uses is pruned after the longest cookie's life (Flask's 31-day session cookie)
    # and a minute to spare: 32 days, rounded up.
    assert "deleted 32 days after it was last used" in privacy
    app.config["VOD_RETENTION_DAYS"] = 0
    assert "kept until the channel's owner deletes them" in page_text(client.get("/legal/privacy"))


def test_the_dmca_page_names_the_agent_or_says_there_is_none(app, client):
    page = page_text(client.get("/legal/dmca"))
    assert "no designated copyright agent yet" in page and UNSET in page
    app.config.update(DMCA_AGENT_NAME="Dana Agent", DMCA_AGENT_ADDRESS="1 Main St, Springfield",
                      DMCA_AGENT_EMAIL="dmca@example.com", DMCA_AGENT_PHONE="+1 555 0100")
    page = page_text(client.get("/legal/dmca"))
    assert "no designated copyright agent yet" not in page
    assert "Dana Agent<br>\n1 Main St, Springfield<br>\ndmca@example.com<br>\n+1 555 0100" in page


def test_footer_and_signup_link_the_pages(client):
    home = page_text(client.get("/"))
    for kind in ("terms", "privacy", "dmca"):
        assert f'href="/legal/{kind}"' in home
    signup = page_text(client.get("/signup"))
    assert "By signing up you agree to the" in signup and 'href="/legal/terms"' in signup


@pytest.mark.parametrize("who, status", [("anonymous", 302), ("member", 403)])
def test_only_site_admins_publish(client, login, who, status):
    if who == "member":
        make_user("mia")
        client = login("mia")
    assert client.get("/legal/terms/publish").status_code == status
    assert client.post("/legal/terms/publish", data={"body": "x", "summary": "y"}).status_code in (status, 400)
    assert count() == 0


def test_an_admin_publishes_a_version_that_takes_effect_at_once(admin, client):
    form = page_text(admin.get("/legal/terms/publish"))
    assert "You must be at least 13 years old" in form  # starts from the text in effect
    response = publish_form(admin, body="# Our rules\n\nBe kind to {site_name}.\n\n<script>alert(1)</script>")
    assert response.status_code == 303 and response.headers["Location"].endswith("/legal/terms/versions/1")
    page = page_text(client.get("/legal/terms"))
    assert "Version 1 · in effect from" in page
    assert "<h2>Our rules</h2>" in page and "Be kind to Cascade Live." in page
    assert "<script>" not in client.get("/legal/terms").get_data(as_text=True)
    versions = page_text(client.get("/legal/terms/versions"))
    assert "Version 1" in versions and "Shorter rules." in versions and "Default text" in versions
    # The text it replaced stays readable, marked as not in effect, with the dates it was.
    old = page_text(client.get("/legal/terms/versions/0"))
    assert "You must be at least 13 years old" in old and "This is not the version in effect" in old


def test_a_later_date_is_announced_until_it_comes(admin, client, app):
    publish_form(admin, summary="First.")
    tomorrow = utcnow().date() + timedelta(days=1)
    response = publish_form(admin, body="Version two.", summary="Adds a rule about bots.", effective=tomorrow)
    assert response.status_code == 303
    page = page_text(client.get("/legal/terms"))
    assert "Version 1 · in effect from" in page
    assert "A new version takes effect on" in page and "Adds a rule about bots." in page
    with app.app_context():
        later = datetime.combine(tomorrow, datetime.min.time(), UTC) + timedelta(minutes=1)
        assert services.current("terms", now=later).number == 2
        assert services.upcoming("terms", now=later) is None
    old = re.sub(r"<[^>]+>", "", page_text(client.get("/legal/terms/versions/1")))
    assert f"until {tomorrow.strftime('%-d %B %Y')}" in old


@pytest.mark.parametrize("change, message", [
    ({"summary": ""}, "Say in a sentence what changed"),
    ({"body": "   "}, "The text is empty."),
    ({"effective": utcnow().date() - timedelta(days=1)}, "The effective date has passed"),
    ({"body": "x" * (services.MAX_BODY_CHARS + 1)}, "Field cannot be longer than"),
])
def test_bad_input_is_refused_and_nothing_is_stored(admin, change, message):
    response = publish_form(admin, **change)
    assert response.status_code == 400 and message in page_text(response)
    assert count() == 0


def test_members_are_told_of_a_new_version_until_they_dismiss_it(admin, login):
    make_user("early")
    early = login("early")
    assert "legal-notice" not in early.get("/").get_data(as_text=True)
    publish_form(admin, kind="privacy", summary="We keep logins for <b>31</b> days.")
    page = early.get("/").get_data(as_text=True)
    assert 'id="legal-notice"' in page and "Privacy Policy" in page
    assert "We keep logins for &lt;b&gt;31&lt;/b&gt; days." in page  # the summary is escaped
    assert Actions(early).post("/legal/notice/dismiss", token_from="/").status_code == 303
    assert "legal-notice" not in early.get("/").get_data(as_text=True)
    # Someone who signs up afterwards agreed to it at signup: no notice.
    make_user("late")
    assert "legal-notice" not in login("late").get("/").get_data(as_text=True)


def test_flask_legal_publishes_from_a_file_and_lists_versions(runner, tmp_path, client):
    text = tmp_path / "terms.md"
    text.write_text("# Terms\n\nPlay nice.", encoding="utf-8")
    result = runner.invoke(args=["legal", "publish", "terms", str(text), "--summary", "Play nice."])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Terms of Service: version 1, in effect from")
    assert "Play nice." in page_text(client.get("/legal/terms"))

    result = runner.invoke(args=["legal", "publish", "terms", str(text), "--summary", "x", "--effective", "soon"])
    assert result.exit_code != 0 and "a date like 2027-01-31, or now" in result.output
    result = runner.invoke(args=["legal", "publish", "terms", str(text), "--summary", "x", "--effective", "2020-01-01"])
    assert result.exit_code != 0 and "The effective date has passed" in result.output
    assert count() == 1

    listing = runner.invoke(args=["legal", "versions", "terms"]).output.splitlines()
    assert listing[0].split()[0] == "1" and listing[0].endswith("(in effect)")
    assert listing[1].split()[0] == "0" and "shipped default" in listing[1]
