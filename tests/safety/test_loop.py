"""The whole loop over HTTP: a viewer reports a chat message, a channel moderator removes it with
a statement of reasons, the author reads it (page and e-mail) and appeals, another moderator
upholds the appeal and the message is back; the reporter hears the outcome, never the reverse."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Appeal, AuditEntry, Case, ChatMessage, Report, Sanction
from tests.conftest import Actions, csrf_from, page_text, run_jobs
from tests.factories import PASSWORD, make_user

STATEMENT = "Calling someone garbage and telling them to leave is harassment."


def client_of(app, username: str):
    client = app.test_client()
    assert Actions(client).login(username, PASSWORD).status_code == 303
    return client


def post(client, path: str, data: dict, token_from: str | None = None):
    return Actions(client).post(path, data, token_from=token_from)


def report_message(client, message_id: int, reason: str = "rule-1", details: str = "Harassing me"):
    return post(client, f"/report/message/{message_id}", {"reason": reason, "details": details})



def test_report_action_statement_appeal_restore(app, mailbox, people, chat):
    message = chat[25]
    carol = client_of(app, "carol")
    sent = report_message(carol, message.id)
    assert sent.status_code == 200 and "your report is in" in page_text(sent)
    report = db.session.scalars(select(Report)).one()
    case = report.case
    assert (case.state, case.channel_id, case.target_user_id) == ("open", people["alice"].channel.id, people["bob"].id)
    # The evidence: the message with the 20 lines on each side, as they were.
    lines = report.evidence["lines"]
    assert len(lines) == 41 and lines[20]["reported"] and lines[20]["text"] == "you are garbage, leave"
    assert [line["text"] for line in lines[:2]] == ["line 5", "line 6"]

    alice = client_of(app, "alice")
    queue = alice.get("/moderation/reports")
    assert queue.status_code == 200 and f"/moderation/reports/{case.id}" in queue.get_data(as_text=True)
    page = alice.get(f"/moderation/reports/{case.id}").get_data(as_text=True)
    assert "you are garbage, leave" in page and "line 45" in page and "carol" in page  # staff see the reporter
    assert post(alice, f"/moderation/reports/{case.id}/claim", {}, token_from=f"/moderation/reports/{case.id}"
                ).status_code == 303
    done = post(alice, f"/moderation/reports/{case.id}/action",
                {"kind": "remove", "rule": "rule-1", "statement": STATEMENT},
                token_from=f"/moderation/reports/{case.id}")
    assert done.status_code == 303, page_text(done)
    db.session.expire_all()
    assert db.session.get(ChatMessage, message.id).state == "deleted"
    assert db.session.get(Case, case.id).state == "actioned"
    sanction = db.session.scalars(select(Sanction)).one()
    assert (sanction.kind, sanction.user_id, sanction.actor_id) == ("remove", people["bob"].id, people["alice"].id)

    # The author: a banner, the statement of reasons, and the same by e-mail with a link.
    run_jobs(app)
    bob = client_of(app, "bob")
    home = page_text(bob.get("/"))
    assert "Moderators took action on your account" in home
    notice = bob.get(f"/notices/{sanction.id}")
    text = page_text(notice)
    for part in ("Content removed", "Rule 1: No harassment", "chat message by @bob in alice", STATEMENT,
                 "By a member of staff", "Send appeal"):
        assert part in text, part
    assert "carol" not in notice.get_data(as_text=True).lower()  # the reporter stays unknown
    assert "Moderators took action" not in page_text(bob.get("/"))  # read now
    [mailed] = mailbox.to("bob@example.com")
    body = mailed.get_content()
    assert STATEMENT in body and "Rule 1: No harassment" in body and "carol" not in body.lower()
    assert re.search(rf"/notices/{sanction.id}/\S+", body)

    appealed = post(bob, f"/notices/{sanction.id}", {"text": "It was a joke between friends."})
    assert appealed.status_code == 303
    again = post(bob, f"/notices/{sanction.id}", {"text": "Again"})
    assert again.status_code == 409 and "You appealed on" in page_text(again)
    appeal = db.session.scalars(select(Appeal)).one()

    # Whoever took the action does not decide the appeal; another moderator does.
    assert f"/moderation/appeals/{appeal.id}" not in alice.get("/moderation/appeals").get_data(as_text=True)
    refused = post(alice, f"/moderation/appeals/{appeal.id}",
                   {f"appeal{appeal.id}-outcome": "uphold", f"appeal{appeal.id}-decision": "ok"},
                   token_from="/moderation/appeals")
    assert refused.status_code == 404
    dave = client_of(app, "dave")
    assert f"/moderation/appeals/{appeal.id}" in dave.get("/moderation/appeals").get_data(as_text=True)
    upheld = post(dave, f"/moderation/appeals/{appeal.id}",
                  {f"appeal{appeal.id}-outcome": "uphold",
                   f"appeal{appeal.id}-decision": "On a second look this was banter; the message is back."},
                  token_from="/moderation/appeals")
    assert upheld.status_code == 303
    db.session.expire_all()
    assert db.session.get(ChatMessage, message.id).state == "visible"
    assert db.session.get(Appeal, appeal.id).state == "upheld"
    assert db.session.get(Sanction, sanction.id).reversed_at is not None
    run_jobs(app)
    decision = mailbox.to("bob@example.com")[-1].get_content()
    assert "upheld" in decision and "content is back" in decision

    # The reporter: the outcome on their report's page (the removal, reversed on appeal), without
    # the other side's details.
    mine = page_text(carol.get(f"/reports/{report.id}"))
    assert "another member of staff reversed the action" in mine and STATEMENT not in mine
    # The audit log has each step, with names.
    actions = [line.action for line in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["case.claim", "sanction.remove", "appeal.file", "appeal.upheld"]


@pytest.mark.both_databases  # one open case per target: a partial unique index on each database
def test_reports_on_one_target_fold_into_one_case_and_a_reporter_reports_once(app, people, chat):
    message = chat[25]
    carol, dave = client_of(app, "carol"), client_of(app, "dave")
    assert report_message(carol, message.id).status_code == 200
    again = report_message(carol, message.id)
    assert again.status_code == 409 and "already reported" in page_text(again)
    assert report_message(dave, message.id, "child_safety", "").status_code == 200
    case = db.session.scalars(select(Case)).one()
    assert len(case.reports) == 2
    # The most urgent reason wins, and a child-safety case goes to the site's staff.
    assert (case.reason, case.priority, case.channel_id) == ("child_safety", 0, None)
    assert f"/moderation/reports/{case.id}" not in client_of(app, "alice").get("/moderation/reports").get_data(
        as_text=True)
    assert client_of(app, "alice").get(f"/moderation/reports/{case.id}").status_code == 404


def test_the_queue_puts_child_safety_first(app, people, chat):
    carol = client_of(app, "carol")
    assert report_message(carol, chat[10].id).status_code == 200
    sent = post(carol, f"/report/user/{people['bob'].id}", {"reason": "child_safety", "details": "x"})
    assert sent.status_code == 200
    page = client_of(app, "root").get("/moderation/reports").get_data(as_text=True)
    cases = re.findall(r'href="/moderation/reports/(\d+)"', page)
    first = db.session.get(Case, int(cases[0]))
    assert first.reason == "child_safety" and len(cases) == 2


def test_bad_reports_are_refused_and_store_nothing(app, people, chat):
    carol = client_of(app, "carol")
    for data, expected in (({"reason": "rule-99"}, 400), ({"reason": "copyright"}, 400),
                           ({"reason": "rule-1", "details": "x" * 2001}, 400)):
        assert post(carol, f"/report/message/{chat[25].id}", data).status_code == expected, data
    bob = client_of(app, "bob")
    own = report_message(bob, chat[25].id)
    assert own.status_code == 409 and "your own" in page_text(own)
    assert client_of(app, "carol").get("/report/message/999999").status_code == 404
    assert client_of(app, "carol").get("/report/planet/1").status_code == 404
    assert db.session.scalar(select(Case.id)) is None and db.session.scalar(select(Report.id)) is None


def test_members_have_a_report_limit(make_app, people, chat):
    app = make_app(REPORTS_PER_HOUR=3)
    with app.app_context():
        carol = client_of(app, "carol")
        for line in chat[0:6:2]:  # alice's lines
            assert report_message(carol, line.id).status_code == 200
        limited = report_message(carol, chat[6].id)
        assert limited.status_code == 429 and "a lot of reports" in page_text(limited)
        assert db.session.query(Report).count() == 3


def test_a_signed_out_notice_needs_an_address_good_faith_and_an_illegal_content_reason(app, mailbox, people):
    bob = people["bob"]
    path = f"/report/user/{bob.id}"
    anonymous = app.test_client()
    form = anonymous.get(path).get_data(as_text=True)
    assert "Your e-mail address" in form and "good faith" in form and "rule-1" not in form
    token = csrf_from(form)
    base = {"csrf_token": token, "reason": "illegal", "details": "Sells stolen cards",
            "contact_email": "someone@example.org", "good_faith": "y"}
    for missing, message in (("contact_email", "e-mail address"), ("good_faith", "good faith"),
                             ("details", "why the content is illegal")):
        refused = anonymous.post(path, data={k: v for k, v in base.items() if k != missing})
        assert refused.status_code == 400 and message in page_text(refused), missing
    assert anonymous.post(path, data={**base, "reason": "rule-1"}).status_code == 400
    assert db.session.scalar(select(Report.id)) is None
    sent = anonymous.post(path, data=base)
    assert sent.status_code == 200 and "someone@example.org" in page_text(sent)
    report = db.session.scalars(select(Report)).one()
    assert report.reporter_id is None and report.good_faith and report.evidence["username"] == "bob"
    root = client_of(app, "root")
    assert post(root, f"/moderation/reports/{report.case_id}/dismiss", {"note": "Not illegal"},
                token_from=f"/moderation/reports/{report.case_id}").status_code == 303
    run_jobs(app)
    [outcome] = mailbox.to("someone@example.org")
    assert "found nothing that breaks our rules" in outcome.get_content()


def test_reporters_and_staff_write_to_each_other_without_names_crossing(app, people, chat):
    carol = client_of(app, "carol")
    report_message(carol, chat[25].id)
    report = db.session.scalars(select(Report)).one()
    dave = client_of(app, "dave")
    case_page = f"/moderation/reports/{report.case_id}"
    assert post(dave, f"{case_page}/reply/{report.id}", {"body": "Did this happen before?"},
                token_from=case_page).status_code == 303
    assert post(dave, f"{case_page}/note", {"body": "Staff only: watch bob"}, token_from=case_page).status_code == 303
    mine = carol.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "Did this happen before?" in mine and "Staff only" not in mine and "dave" not in mine
    assert post(carol, f"/reports/{report.id}", {"body": "Yes, twice."}).status_code == 303
    assert "Yes, twice." in dave.get(case_page).get_data(as_text=True)
    # Nobody else reads the report.
    assert client_of(app, "bob").get(f"/reports/{report.id}").status_code == 404


@pytest.mark.parametrize("path", ["/reports", "/notices", "/moderation/reports", "/moderation/appeals",
                                  "/admin/audit", "/admin/people/bob"])
def test_signed_out_visitors_are_sent_to_log_in(app, people, path):
    response = app.test_client().get(path)
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_who_sees_which_page(app, people, chat):
    carol = client_of(app, "carol")
    report_message(carol, chat[25].id)
    case = db.session.scalars(select(Case)).one()
    expected = {  # path -> {user: status}
        # Every member owns a channel, so has a queue: the reports about their own chat.
        "/moderation/reports": {"carol": 200, "bob": 200, "alice": 200, "dave": 200, "root": 200},
        f"/moderation/reports/{case.id}": {"carol": 404, "bob": 404, "alice": 200, "dave": 200, "root": 200},
        "/moderation/appeals": {"carol": 200, "alice": 200, "root": 200},
        "/admin/audit": {"carol": 403, "alice": 403, "dave": 403, "root": 200},
        "/admin/people/bob": {"carol": 403, "alice": 403, "root": 200},
        "/admin/people/nobody": {"root": 404},
        "/reports": {"carol": 200, "bob": 200},
        "/notices": {"bob": 200},
    }
    clients = {name: client_of(app, name) for name in ("alice", "bob", "carol", "dave", "root")}
    for path, statuses in expected.items():
        for name, status in statuses.items():
            assert clients[name].get(path).status_code == status, (path, name)
    for name, sees in (("carol", False), ("bob", False), ("alice", True), ("dave", True), ("root", True)):
        queue = clients[name].get("/moderation/reports").get_data(as_text=True)
        assert (f"/moderation/reports/{case.id}" in queue) is sees, name


def test_the_audit_log_has_no_way_to_change_a_line(app):
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_an_audit_line_keeps_its_names_after_the_people_are_gone(app, people, chat):
    from app.auth.deletion import delete_account

    carol = client_of(app, "carol")
    report_message(carol, chat[25].id)
    case = db.session.scalars(select(Case)).one()
    dave = client_of(app, "dave")
    post(dave, f"/moderation/reports/{case.id}/action", {"kind": "warn", "rule": "rule-1", "statement": STATEMENT},
         token_from=f"/moderation/reports/{case.id}")
    delete_account(people["dave"])
    delete_account(people["bob"])
    db.session.expire_all()
    line = db.session.scalars(select(AuditEntry)).one()
    assert (line.actor_id, line.actor_name, line.target_name) == (None, "dave", "@bob")


def test_channel_staff_cannot_take_site_actions(app, people, chat):
    report_message(client_of(app, "carol"), chat[25].id)
    case = db.session.scalars(select(Case)).one()
    alice = client_of(app, "alice")
    refused = post(alice, f"/moderation/reports/{case.id}/action",
                   {"kind": "account_suspend", "rule": "rule-1", "statement": STATEMENT},
                   token_from=f"/moderation/reports/{case.id}")
    assert refused.status_code == 400 and not db.session.get(type(people["bob"]), people["bob"].id).disabled
    # ...but can hand the case to the site's staff, who can.
    assert post(alice, f"/moderation/reports/{case.id}/escalate", {},
                token_from=f"/moderation/reports/{case.id}").status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, case.id).channel_id is None
    assert alice.get(f"/moderation/reports/{case.id}").status_code == 404
    assert client_of(app, "root").get(f"/moderation/reports/{case.id}").status_code == 200


def test_a_statement_without_reasons_is_refused(app, people, chat):
    report_message(client_of(app, "carol"), chat[25].id)
    case = db.session.scalars(select(Case)).one()
    refused = post(client_of(app, "alice"), f"/moderation/reports/{case.id}/action",
                   {"kind": "warn", "rule": "rule-1", "statement": "  "}, token_from=f"/moderation/reports/{case.id}")
    assert refused.status_code == 400 and "statement of reasons" in page_text(refused)
    assert db.session.scalar(select(Sanction.id)) is None and db.session.get(Case, case.id).state == "open"


def test_the_terms_list_the_rules_reports_name(make_app):
    app = make_app(SITE_RULES="Be kind.|No spoilers for new releases.")
    with app.app_context():
        page = page_text(app.test_client().get("/legal/terms"))
        assert "Be kind." in page and "No spoilers for new releases." in page
        target = make_user("target")
        assert "No spoilers" not in page_text(app.test_client().get(f"/report/user/{target.id}"))  # signed out
        client = app.test_client()
        Actions(client).login(make_user("someone").username, PASSWORD)
        assert "Breaks rule 2: No spoilers for new releases." in page_text(client.get(f"/report/user/{target.id}"))
