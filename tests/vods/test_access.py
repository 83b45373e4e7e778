"""Who may watch a VOD: can_view_vod over roles and visibility (app.vods.access)."""
from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin

from app.auth import services as accounts
from app.models.vod import VISIBILITY_PRIVATE, VISIBILITY_PUBLIC
from app.vods.access import can_view_vod
from tests.vods.factory import make_vod


@pytest.fixture
def app(site):
    return site


# Rules over rows: one storage backend is enough.
local_only = pytest.mark.parametrize("site", ["local"], indirect=True)


# --- can_view_vod --------------------------------------------------------------------------------

ROLES = ["owner", "admin", "other", "anonymous", "nobody", "disabled owner", "disabled admin"]
EXPECTED = {  # role: (private, public)
    "owner": (True, True), "admin": (True, True), "other": (False, True), "anonymous": (False, True),
    "nobody": (False, True), "disabled owner": (False, False), "disabled admin": (False, True),
}


@local_only
@pytest.mark.parametrize("visibility", [VISIBILITY_PRIVATE, VISIBILITY_PUBLIC])
@pytest.mark.parametrize("role", ROLES)
def test_can_view_by_role_and_visibility(app, people, role, visibility):
    vod = make_vod(people["owner"], public=visibility == VISIBILITY_PUBLIC, objects=False)
    if role == "anonymous":
        user = AnonymousUserMixin()
    elif role == "nobody":
        user = None
    else:
        user = people[role.removeprefix("disabled ")]
        if role.startswith("disabled"):
            accounts.set_disabled(user, True)
    assert can_view_vod(vod, user) is EXPECTED[role][visibility == VISIBILITY_PUBLIC]


@local_only
def test_a_disabled_owners_public_vods_are_hidden_from_all_but_admins(app, people):
    vod = make_vod(people["owner"], public=True, objects=False)
    accounts.set_disabled(people["owner"], True)
    assert not can_view_vod(vod, people["other"]) and not can_view_vod(vod, None)
    assert can_view_vod(vod, people["admin"])


@local_only
def test_no_vod_is_viewable_by_anyone(app, people):
    assert not can_view_vod(None, people["admin"])
