"""Who may do what to a channel and its VODs, role by role: one table per resource, so a change
to any rule (or to which helper answers it) shows up here as a changed row."""
from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin

from app.auth import services as accounts
from app.channels.access import can_manage_channel, is_channel_staff, role_of
from app.extensions import db
from app.models import ChannelRole
from app.moderation import services as moderation
from app.vods import services as vods
from app.vods.access import can_manage_vods, can_view_vod
from tests.conftest import Actions
from tests.factories import PASSWORD, make_user
from tests.vods.factory import make_vod


def _passes(check, channel, user) -> bool:
    try:
        check(channel, user)
    except moderation.ModerationError:
        return False
    return True


# The questions, asked through the helpers that answer them (actor: a User, anonymous or None).
QUESTIONS = {
    "role": lambda w, u: role_of(w["channel"], u),
    "channel staff": lambda w, u: is_channel_staff(w["channel"], u),
    "staff view of a user card": lambda w, u: moderation.user_card(w["channel"], u, w["target"].id).staff_view,
    "moderates": lambda w, u: _passes(moderation.require_staff, w["channel"], u),
    "manages (moderation)": lambda w, u: _passes(moderation.require_manager, w["channel"], u),
    "manages (channel)": lambda w, u: can_manage_channel(w["channel"], u),
    "manages (VODs)": lambda w, u: can_manage_vods(w["channel"], u),
    "views private VOD": lambda w, u: can_view_vod(w["private"], u),
    "views public VOD": lambda w, u: can_view_vod(w["public"], u),
    "lists private VOD": lambda w, u: w["private"] in vods.vods_for(w["channel"], u),
    "watches private VOD": lambda w, u: vods.viewable_vod(w["channel"], w["private"].id, u) is not None,
}
COLUMNS = list(QUESTIONS)

T, F = True, False
# Today's answers. A disabled account is not authenticated (User.is_active), so it counts as
# anonymous everywhere; its own channel's public VOD is hidden with it.
EXPECTED = {  # actor: (role, staff, card, moderates, manages x3, private, public, lists, watches)
    "owner":              ("owner",     T, T, T, T, T, T, T, T, T, T),
    "admin":              ("admin",     T, T, T, T, T, T, T, T, T, T),
    "moderator":          ("moderator", T, T, T, F, F, F, F, T, F, F),
    "viewer":             ("viewer",    F, F, F, F, F, F, F, T, F, F),
    "anonymous":          ("anonymous", F, F, F, F, F, F, F, T, F, F),
    "nobody":             ("anonymous", F, F, F, F, F, F, F, T, F, F),
    "disabled owner":     ("anonymous", F, F, F, F, F, F, F, F, F, F),
    "disabled admin":     ("anonymous", F, F, F, F, F, F, F, T, F, F),
    "disabled moderator": ("anonymous", F, F, F, F, F, F, F, T, F, F),
    "disabled viewer":    ("anonymous", F, F, F, F, F, F, F, T, F, F),
}
# When the owner's account is disabled, its public VOD is gone for everyone but admins.
EXPECTED_OWNER_DISABLED = {  # actor: views public VOD
    "admin": T, "moderator": F, "viewer": F, "anonymous": F, "nobody": F,
}


@pytest.fixture
def world(app):
    owner = make_user("maker")
    moderator = make_user("helper")
    db.session.add(ChannelRole(channel_id=owner.channel.id, user_id=moderator.id, role="moderator"))
    db.session.commit()
    return {
        "channel": owner.channel,
        "owner": owner, "admin": make_user("boss", admin=True), "moderator": moderator,
        "viewer": make_user("watcher"), "target": make_user("chatter"),
        "private": make_vod(owner, objects=False), "public": make_vod(owner, public=True, objects=False),
    }


def actor(world, name: str):
    if name == "anonymous":
        return AnonymousUserMixin()
    if name == "nobody":
        return None
    user = world[name.removeprefix("disabled ")]
    if name.startswith("disabled "):
        accounts.set_disabled(user, True)
    return user


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_role_gets_todays_answers(world, name):
    user = actor(world, name)
    answers = {question: QUESTIONS[question](world, user) for question in COLUMNS}
    assert answers == dict(zip(COLUMNS, EXPECTED[name], strict=True))


@pytest.mark.parametrize("name", list(EXPECTED_OWNER_DISABLED))
def test_a_disabled_owners_public_vod(world, name):
    user = actor(world, name)
    accounts.set_disabled(world["owner"], True)
    assert QUESTIONS["views public VOD"](world, user) is EXPECTED_OWNER_DISABLED[name]


# --- a channel by its slug: the pages that answer 404 -------------------------------------------

def _status(client, method: str, path: str) -> int:
    if method == "POST heartbeat":
        return client.post(path, json={"viewer": "abcdefgh12"}).status_code
    if method == "POST form":
        return Actions(client).post(path, token_from="/").status_code
    return client.get(path).status_code


PAGES = [  # (method, path, anonymous, viewer, admin) for a disabled owner's channel
    ("GET", "/c/maker", 404, 404, 404),
    ("GET", "/embed/maker", 404, 404, 404),
    ("GET", "/c/maker/videos", 404, 404, 200),
    ("GET", "/api/v1/channels/maker", 404, 404, 404),
    ("GET", "/api/v1/channels/maker/vods", 404, 404, 200),
    ("POST heartbeat", "/api/v1/channels/maker/watch", 200, 200, 200),
    ("POST form", "/c/maker/follow", None, 404, 404),
    ("GET", "/c/maker/chat/settings", None, 404, 404),
    ("GET", "/c/maker/chat/actions", None, 404, 404),
]


def test_a_disabled_owners_channel_by_page(app, client):
    owner = make_user("maker")
    make_user("watcher")
    make_user("boss", admin=True)
    accounts.set_disabled(owner, True)
    clients = {"anonymous": client}
    for name in ("watcher", "boss"):
        clients[name] = app.test_client()
        assert Actions(clients[name]).login(name, PASSWORD).status_code == 303
    for method, path, *expected in PAGES:
        got = [_status(clients[name], method, path) if want is not None else None
               for name, want in zip(("anonymous", "watcher", "boss"), expected, strict=True)]
        assert got == expected, (method, path)


def test_an_unknown_channel_is_404_everywhere(app, client):
    boss = app.test_client()
    make_user("boss", admin=True)
    assert Actions(boss).login("boss", PASSWORD).status_code == 303
    for method, path, anonymous, *_ in PAGES:
        path = path.replace("maker", "nobody-here")
        if anonymous is not None:  # the rest send a visitor to sign in first
            assert _status(client, method, path) == 404, path
        assert _status(boss, method, path) == 404, path


def test_staff_pages_of_a_live_channel(app):
    """Channel settings: moderators and the owner's managers in, anyone else refused."""
    owner = make_user("maker")
    moderator = make_user("helper")
    db.session.add(ChannelRole(channel_id=owner.channel.id, user_id=moderator.id, role="moderator"))
    db.session.commit()
    make_user("watcher")
    make_user("boss", admin=True)
    for name, want in (("maker", 200), ("boss", 200), ("helper", 200), ("watcher", 403)):
        client = app.test_client()
        assert Actions(client).login(name, PASSWORD).status_code == 303
        assert client.get("/c/maker/chat/settings").status_code == want, name
