"""The chat settings page (modes, blocked terms, moderators, bans) and the mod log."""
import html
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.chat import services as chat
from app.extensions import db
from app.models import BlockedTerm, ChannelRole, ChatBan, ChatMessage, ChatSettings, ModerationAction
from app.moderation import pages, services
from tests.conftest import page_text
from tests.factories import make_user

HX = {"HX-Request": "true"}
SETTINGS = "/c/olive/chat/settings"
MODES = "/c/olive/chat/settings/modes"
TERMS = "/c/olive/chat/settings/terms"
MODERATORS = "/c/olive/chat/settings/moderators"
RESTRICTIONS = "/c/olive/chat/settings/restrictions"
LOG = "/c/olive/modlog"
GOOD_MODES = {"slow_mode": "30", "slow_custom": "", "followers_min_minutes": "10", "followers_only": "y",
              "link_policy": "allowlist", "allowed_domains": "example.com\nhttps://www.Docs.Python.org/3/",
              "automod_level": "high"}


@pytest.fixture
def people(app):
    owner = make_user("olive")
    mod = make_user("mona")
    viewer = make_user("victor")
    admin = make_user("ada", admin=True)
    services.add_moderator(owner.channel, owner, "mona")
    return SimpleNamespace(owner=owner, moderator=mod, viewer=viewer, admin=admin, channel=owner.channel)


def login(actions, people, role):
    if role != "anonymous":
        actions.login(getattr(people, role).username)


def visible(response) -> str:
    """The words a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(text).split())


def stored_settings(people):
    db.session.expire_all()
    return chat.settings_for(people.channel)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- access -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [SETTINGS, MODES, TERMS, RESTRICTIONS, LOG])
@pytest.mark.parametrize("role, status", [
    ("anonymous", 302), ("viewer", 403), ("moderator", 200), ("owner", 200), ("admin", 200)])
def test_staff_pages_by_role(client, actions, people, path, role, status):
    login(actions, people, role)
    response = client.get(path)
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]
    if status == 403:
        assert "Only the channel's owner, its moderators and site admins" in page_text(response)


@pytest.mark.parametrize("role, status", [
    ("anonymous", 302), ("viewer", 403), ("moderator", 403), ("owner", 200), ("admin", 200)])
def test_moderator_list_is_for_owner_and_admins(client, actions, people, role, status):
    login(actions, people, role)
    assert client.get(MODERATORS).status_code == status
    page = client.get(SETTINGS)
    if status == 200:
        assert 'id="moderators"' in page.get_data(as_text=True)
    elif role == "moderator":
        assert 'id="moderators"' not in page.get_data(as_text=True)


def test_unknown_channel_is_404(client, actions, people):
    login(actions, people, "admin")
    assert client.get("/c/nobody/chat/settings").status_code == 404
    assert client.get("/c/nobody/modlog").status_code == 404


def test_dashboard_chat_is_your_own_channel(client, actions, people):
    assert "/login" in client.get("/dashboard/chat").headers["Location"]
    login(actions, people, "viewer")
    html = page_text(client.get("/dashboard/chat"))
    assert "Chat settings" in html and "/c/victor" in html and "Your channel" in html
    assert 'id="moderators"' in html  # everyone owns their own channel
    assert "/dashboard/chat" in client.get("/dashboard").get_data(as_text=True)


def test_section_urls_serve_page_or_fragment(client, actions, people):
    login(actions, people, "owner")
    for path, root in [(MODES, '<section id="chat-modes"'), (TERMS, '<section id="blocked-terms"'),
                       (MODERATORS, '<section id="moderators"'), (RESTRICTIONS, '<section id="restrictions"')]:
        fragment = client.get(path, headers=HX)
        assert fragment.get_data(as_text=True).lstrip().startswith(root)
        assert "HX-Request" in fragment.headers["Vary"]
        page = client.get(path).get_data(as_text=True)
        assert "<html" in page and root in page


def test_settings_page_shows_current_modes(client, actions, people):
    services.update_modes(people.channel, people.owner, slow_seconds=45, link_policy="block",
                          automod_level="off")
    login(actions, people, "owner")
    html = client.get("/dashboard/chat").get_data(as_text=True)
    assert '<option selected value="custom">' in html
    assert re.search(r'<input[^>]* id="slow_custom"[^>]* value="45"', html)
    assert re.search(r'<input checked id="link_policy-\d" name="link_policy" type="radio" value="block">', html)
    assert re.search(r'<input checked id="automod_level-\d" name="automod_level" type="radio" value="off">', html)


# --- chat modes ---------------------------------------------------------------------------------

def test_owner_saves_modes_with_htmx(actions, people):
    login(actions, people, "owner")
    response = actions.post("/dashboard/chat", GOOD_MODES, token_from="/dashboard/chat", headers=HX)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="chat-modes"') and "<html" not in html
    assert "Chat modes saved." in html
    settings = stored_settings(people)
    assert settings.slow_seconds == 30
    assert settings.followers_only is True and settings.followers_min_minutes == 10
    assert settings.emote_only is False
    assert settings.link_policy == "allowlist"
    assert settings.allowed_domains == ["example.com", "docs.python.org"]
    assert settings.automod_level == "high"
    assert count(ModerationAction, ModerationAction.kind == "slow") == 1


def test_modes_page_post_redirects_back(actions, people):
    login(actions, people, "owner")
    response = actions.post("/dashboard/chat", {**GOOD_MODES, "slow_mode": "custom", "slow_custom": "600"},
                            token_from="/dashboard/chat")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard/chat")
    assert stored_settings(people).slow_seconds == 600


def test_custom_wait_is_ignored_while_a_preset_is_chosen(actions, people):
    login(actions, people, "owner")
    response = actions.post("/dashboard/chat", {**GOOD_MODES, "slow_mode": "10", "slow_custom": "9999"},
                            token_from="/dashboard/chat", headers=HX)
    assert "Chat modes saved." in page_text(response)
    assert stored_settings(people).slow_seconds == 10


@pytest.mark.parametrize("htmx", [True, False])
def test_moderator_saves_modes_for_the_channel(actions, people, htmx):
    login(actions, people, "moderator")
    response = actions.post(MODES, {**GOOD_MODES, "emote_only": "y", "link_policy": "block"},
                            token_from=SETTINGS, headers=HX if htmx else {})
    if htmx:
        assert "Chat modes saved." in page_text(response)
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith(SETTINGS)
    settings = stored_settings(people)
    assert settings.emote_only is True and settings.link_policy == "block"


def test_viewer_cannot_post_modes(actions, people):
    login(actions, people, "viewer")
    response = actions.post(MODES, GOOD_MODES, token_from="/dashboard/chat", headers=HX)
    assert response.status_code == 403
    assert db.session.get(ChatSettings, people.channel.id) is None


@pytest.mark.parametrize("change, message", [
    ({"slow_mode": "9999"}, "Slow mode is between 0 and 600 seconds"),
    ({"slow_mode": "custom", "slow_custom": "9999"}, "A custom wait is between 1 and 600 seconds"),
    ({"slow_mode": "custom", "slow_custom": ""}, "Type the custom wait in seconds"),
    ({"slow_mode": "custom", "slow_custom": "soon"}, "Not a valid integer value."),
    ({"slow_mode": "fast"}, "Pick a slow mode from the list."),
    ({"followers_min_minutes": "-5"}, "Minimum follow time is between 0 and"),
    ({"link_policy": "sometimes"}, "Choose allow, block or allowlist for links."),
    ({"allowed_domains": "example.com\nnot a domain"}, "A domain cannot contain spaces."),
    ({"allowed_domains": "localhost"}, "Enter a full domain with a dot"),
    ({"automod_level": "extreme"}, "Choose off, low or high for automod."),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_modes_show_the_reason_and_change_nothing(actions, people, change, message, htmx):
    services.update_modes(people.channel, people.owner, slow_seconds=5, link_policy="allow", automod_level="low")
    login(actions, people, "owner")
    response = actions.post("/dashboard/chat", {**GOOD_MODES, **change}, token_from="/dashboard/chat",
                            headers=HX if htmx else {})
    assert response.status_code == 200
    html = page_text(response)
    assert message in html
    assert "Nothing was saved: fix the fields marked above." in html
    assert ("<html" in html) is not htmx
    assert 'aria-invalid="true"' in html or 'class="error"' in html
    settings = stored_settings(people)
    assert (settings.slow_seconds, settings.link_policy, settings.automod_level, settings.followers_only) == \
        (5, "allow", "low", False)
    assert settings.allowed_domains == []


# --- blocked terms ------------------------------------------------------------------------------

def test_add_and_remove_terms_with_htmx(actions, people):
    login(actions, people, "moderator")
    response = actions.post(TERMS, {"term": "  Spam*  "}, token_from=SETTINGS, headers=HX)
    html = page_text(response)
    assert html.lstrip().startswith('<section id="blocked-terms"') and "<html" not in html
    assert "“spam*” is now blocked." in html
    term = db.session.scalar(select(BlockedTerm).where(BlockedTerm.channel_id == people.channel.id))
    assert term.term == "spam*"
    response = actions.post(f"{TERMS}/{term.id}/remove", token_from=SETTINGS, headers=HX)
    assert "Term removed." in page_text(response)
    assert count(BlockedTerm) == 0
    assert count(ModerationAction, ModerationAction.kind == "blocked_term") == 2


def test_add_and_remove_terms_without_htmx(actions, people):
    login(actions, people, "owner")
    response = actions.post(TERMS, {"term": "badword"}, token_from="/dashboard/chat")
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard/chat")
    page = actions.client.get("/dashboard/chat").get_data(as_text=True)
    assert "badword" in page
    term_id = db.session.scalar(select(BlockedTerm.id))
    response = actions.post(f"{TERMS}/{term_id}/remove", token_from="/dashboard/chat")
    assert response.status_code == 303
    assert count(BlockedTerm) == 0


@pytest.mark.parametrize("term, message", [
    ("", "Type a word or phrase to block."),
    ("   ", "Enter a word or phrase to block."),
    ("**", "A blocked term needs letters, not only wildcards (*)."),
    ("x" * 101, "at most 100 characters"),
    ("BadWord", "“badword” is already on the list."),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_terms_show_the_reason_and_change_nothing(actions, people, term, message, htmx):
    services.add_blocked_term(people.channel, people.owner, "badword")
    login(actions, people, "owner")
    response = actions.post(TERMS, {"term": term}, token_from="/dashboard/chat", headers=HX if htmx else {})
    assert response.status_code == 200
    html = page_text(response)
    assert message in html
    assert ("<html" in html) is not htmx
    assert [t.term for t in services.terms_for(people.channel)] == ["badword"]


def test_removing_a_term_of_another_channel_is_refused(actions, people):
    other = services.add_blocked_term(people.viewer.channel, people.viewer, "elsewhere")
    login(actions, people, "owner")
    response = actions.post(f"{TERMS}/{other.id}/remove", token_from="/dashboard/chat", headers=HX)
    assert "That term isn't on this list." in page_text(response)
    assert count(BlockedTerm) == 1


def test_site_wide_terms_show_as_a_count_only(client, actions, people):
    db.session.add_all([BlockedTerm(channel_id=None, term="sitewideone"),
                        BlockedTerm(channel_id=None, term="sitewidetwo")])
    db.session.commit()
    login(actions, people, "owner")
    html = page_text(client.get("/dashboard/chat"))
    assert "2 site-wide terms" in html
    assert "sitewideone" not in html


# --- moderators ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_and_admin_add_and_remove_moderators(actions, people, role):
    make_user("nina")
    login(actions, people, role)
    response = actions.post(MODERATORS, {"username": "@Nina"}, token_from=SETTINGS, headers=HX)
    html = page_text(response)
    assert html.lstrip().startswith('<section id="moderators"')
    assert "nina is now a moderator." in html and "@mona" in html
    nina = db.session.scalar(select(ChannelRole).where(ChannelRole.user_id != people.moderator.id))
    response = actions.post(f"{MODERATORS}/{nina.user_id}/remove", token_from=SETTINGS, headers=HX)
    assert "nina is no longer a moderator." in page_text(response)
    assert count(ChannelRole) == 1


def test_moderator_page_post_redirects(actions, people):
    make_user("nina")
    login(actions, people, "owner")
    response = actions.post(MODERATORS, {"username": "nina"}, token_from="/dashboard/chat")
    assert response.status_code == 303
    assert count(ChannelRole) == 2


@pytest.mark.parametrize("username, message", [
    ("", "Type the username of the person to make a moderator."),
    ("ghost", "There is no user called “ghost”."),
    ("olive", "You already moderate your own chat."),
    ("mona", "mona is already a moderator."),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_moderators_show_the_reason_and_change_nothing(actions, people, username, message, htmx):
    login(actions, people, "owner")
    response = actions.post(MODERATORS, {"username": username}, token_from="/dashboard/chat",
                            headers=HX if htmx else {})
    assert response.status_code == 200
    html = page_text(response)
    assert message in html
    assert ("<html" in html) is not htmx
    assert count(ChannelRole) == 1


def test_moderator_cannot_add_or_remove_moderators(actions, people):
    make_user("nina")
    login(actions, people, "moderator")
    response = actions.post(MODERATORS, {"username": "nina"}, token_from=SETTINGS, headers=HX)
    assert response.status_code == 403
    assert "Only the channel's owner can do that." in page_text(response)
    response = actions.post(f"{MODERATORS}/{people.moderator.id}/remove", token_from=SETTINGS, headers=HX)
    assert response.status_code == 403
    assert count(ChannelRole) == 1


# --- bans and timeouts --------------------------------------------------------------------------

def test_restrictions_list_and_lift_with_htmx(client, actions, people):
    services.ban_user(people.channel, people.owner, people.viewer, "spamming <links>")
    troll = make_user("troll")
    services.timeout_user(people.channel, people.owner, troll, 600, "")
    login(actions, people, "moderator")
    html = page_text(client.get(SETTINGS))
    assert "@victor" in html and "Banned" in html and "Reason: spamming <links>" in html
    assert "spamming &lt;links&gt;" in client.get(SETTINGS).get_data(as_text=True)
    assert "@troll" in html and "Timed out" in html and "End timeout" in html
    response = actions.post(f"{RESTRICTIONS}/{people.viewer.id}/lift", token_from=SETTINGS, headers=HX)
    html = page_text(response)
    assert html.lstrip().startswith('<section id="restrictions"')
    assert "victor is unbanned." in html and "@victor" not in html and "@troll" in html
    response = actions.post(f"{RESTRICTIONS}/{troll.id}/lift", token_from=SETTINGS)
    assert response.status_code == 303 and response.headers["Location"].endswith(SETTINGS)
    assert count(ChatBan) == 0


def test_lifting_nothing_says_so(actions, people):
    login(actions, people, "owner")
    response = actions.post(f"{RESTRICTIONS}/{people.viewer.id}/lift", token_from="/dashboard/chat", headers=HX)
    assert response.status_code == 200
    assert "victor isn't timed out or banned here." in page_text(response)
    response = actions.post(f"{RESTRICTIONS}/999999/lift", token_from="/dashboard/chat", headers=HX)
    assert "There is no such user." in page_text(response)


# --- the mod log --------------------------------------------------------------------------------

def say(people, user, text) -> ChatMessage:
    message = ChatMessage(channel_id=people.channel.id, user_id=user.id, text=text)
    db.session.add(message)
    db.session.commit()
    return message


def test_mod_log_lists_actions_in_words_with_escaped_text(client, actions, people):
    message = say(people, people.viewer, '<script>alert("x")</script> hi')
    services.delete_message(people.channel, people.moderator, message.id, "rude & <b>loud</b>")
    services.timeout_user(people.channel, people.owner, people.viewer, 600, "cool off")
    services.update_modes(people.channel, people.owner, slow_seconds=30)
    services.add_blocked_term(people.channel, people.owner, "badword")
    services.clear_chat(people.channel, people.moderator)
    login(actions, people, "moderator")
    response = client.get(LOG)
    raw = response.get_data(as_text=True)
    assert "<script>alert" not in raw and "&lt;script&gt;alert" in raw
    assert "<b>loud</b>" not in raw
    text = visible(response)
    assert "cleared the chat" in text
    assert "added a blocked term" in text and "badword" in text
    assert "turned slow mode on (30 seconds)" in text
    assert "timed out victor for 10 minutes" in text
    assert "Reason: cool off" in text
    assert "deleted a message from" in text and '<script>alert("x")</script> hi' in text
    assert "Reason: rude & <b>loud</b>" in text
    assert text.index("cleared the chat") < text.index("deleted a message")  # newest first
    assert "just now" in text


def test_mod_log_pages_older_entries_with_htmx(client, actions, people, monkeypatch):
    monkeypatch.setattr(pages, "LOG_PAGE", 3)
    for term in ("alpha", "bravo", "charlie", "delta", "echo"):
        services.add_blocked_term(people.channel, people.owner, term)
    ids = [a.id for a in services.mod_log(people.channel)]  # newest first, moderator added last-but-all
    login(actions, people, "owner")
    page = page_text(client.get(LOG))
    for term in ("echo", "delta", "charlie"):
        assert f"“{term}”" in page
    assert "“bravo”" not in page
    older = f"{LOG}?before={ids[2]}"
    assert f'href="{older}"' in page.replace("&amp;", "&") and 'hx-get="' in page
    fragment = client.get(older, headers=HX)
    html = page_text(fragment)
    assert "<html" not in html and html.lstrip().startswith('<li class="modlog-entry')
    assert "“bravo”" in html and "“alpha”" in html and "made" in html  # the moderator added at setup
    assert "Older" not in html
    plain = page_text(client.get(older))
    assert "<html" in plain and "Back to the newest entries" in plain


def test_mod_log_when_empty(client, actions, people):
    db.session.execute(ModerationAction.__table__.delete())
    db.session.commit()
    login(actions, people, "owner")
    assert "Nothing logged yet" in page_text(client.get(LOG))


# --- the site-wide list from the shell ----------------------------------------------------------

def test_cli_terms_add_list_remove(app, runner):
    result = runner.invoke(args=["chat", "terms", "add", "  Very*Bad  "])
    assert result.exit_code == 0, result.output
    assert "Blocked “very*bad” site-wide." in result.output
    assert runner.invoke(args=["chat", "terms", "add", "very*bad"]).exit_code == 1
    bad = runner.invoke(args=["chat", "terms", "add", "*"])
    assert bad.exit_code == 1 and "not only wildcards" in bad.output
    listed = runner.invoke(args=["chat", "terms", "list"])
    assert listed.exit_code == 0 and "very*bad" in listed.output
    assert db.session.scalar(select(BlockedTerm.channel_id)) is None
    removed = runner.invoke(args=["chat", "terms", "remove", "Very*Bad"])
    assert removed.exit_code == 0, removed.output
    assert runner.invoke(args=["chat", "terms", "remove", "very*bad"]).exit_code == 1
    assert count(BlockedTerm) == 0
