"""Every safety POST route against every role: the status each gets, and that a refusal changes
nothing. The case is carol's report of bob's line in alice's chat (dave moderates it); the appeal
is bob's, of a warning root gave; "login" is the redirect to the login page."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Appeal, AuditEntry, Case, CaseNote, Sanction, User
from app.safety import actions
from tests.conftest import Actions
from tests.factories import make_user

from .test_loop import STATEMENT, client_of, report_message

ROLES = ("anonymous", "carol", "bob", "dave", "alice", "root", "root2")  # viewer, reported, mod, owner, admins
LOGIN, OK = "login", 303
CASE_STAFF = {"anonymous": LOGIN, "carol": 404, "bob": 404, "dave": OK, "alice": OK, "root": OK, "root2": OK}
ADMINS = {"anonymous": LOGIN, "carol": 403, "bob": 403, "dave": 403, "alice": 403, "root": OK, "root2": OK}
# Whoever took the action (root) never decides its appeal; channel staff don't decide a site action's.
DECIDERS = {"anonymous": LOGIN, "carol": 404, "bob": 404, "dave": 404, "alice": 404, "root": 404, "root2": OK}
ROUTES = {  # name -> (path, form, expected statuses)
    "claim": ("/moderation/reports/{case}/claim", {}, CASE_STAFF),
    "escalate": ("/moderation/reports/{case}/escalate", {}, CASE_STAFF),
    "note": ("/moderation/reports/{case}/note", {"body": "Staff only"}, CASE_STAFF),
    "reply": ("/moderation/reports/{case}/reply/{report}", {"body": "Did it happen before?"}, CASE_STAFF),
    "act": ("/moderation/reports/{case}/action", {"kind": "warn", "rule": "rule-1", "statement": STATEMENT},
            CASE_STAFF),
    "dismiss": ("/moderation/reports/{case}/dismiss", {"note": "Banter"}, CASE_STAFF),
    "decide": ("/moderation/appeals/{appeal}", {"appeal{appeal}-outcome": "uphold",
                                                  "appeal{appeal}-decision": "Upheld."}, DECIDERS),
    "lift": ("/admin/people/bob/lift/{sanction}", {}, ADMINS),
    "person": ("/admin/people/bob", {"kind": "warn", "rule": "rule-1", "statement": STATEMENT}, ADMINS),
}


def snapshot() -> tuple:
    """Everything a safety POST can change."""
    db.session.expire_all()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731 - a local shorthand
    cases = [(c.state, c.channel_id, c.assignee_id) for c in db.session.scalars(select(Case).order_by(Case.id))]
    sanctions = [(s.kind, s.reversed_at) for s in db.session.scalars(select(Sanction).order_by(Sanction.id))]
    appeals = [a.state for a in db.session.scalars(select(Appeal))]
    return cases, sanctions, appeals, count(CaseNote), count(AuditEntry)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES)
def test_each_role_on_each_safety_post(app, people, chat, route, role):
    make_user("root2", admin=True)
    report_message(client_of(app, "carol"), chat[25].id)
    case = db.session.scalars(select(Case)).one()
    [warning] = actions.act(people["root"], db.session.get(User, people["bob"].id), "warn", "rule-2", STATEMENT)
    db.session.commit()
    appeal = actions.appeal(warning, warning.user, "Not me.")
    ids = {"case": case.id, "report": case.reports[0].id, "appeal": appeal.id, "sanction": warning.id}
    path_template, form, expected = ROUTES[route]
    path = path_template.format(**ids)
    data = {key.format(**ids): value for key, value in form.items()}
    client = app.test_client() if role == "anonymous" else client_of(app, role)
    before = snapshot()
    response = Actions(client).post(path, data, token_from="/login" if role == "anonymous" else "/")
    if expected[role] == LOGIN:
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    else:
        assert response.status_code == expected[role], response.get_data(as_text=True)[:500]
    after = snapshot()
    if expected[role] == OK:
        assert after != before
    else:
        assert after == before
