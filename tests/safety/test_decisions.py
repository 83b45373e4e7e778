"""Staff decisions, the gaps issue 17's audit found: a moderator gets no case about the channel's
staff; a decision is one transaction; members who reported hear the outcome and staff's replies
(never the reverse); an upheld appeal undoes a strike's escalation and a DMCA takedown; the queue's
In review tab, the case page's link to the person, and notes in the audit log."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import (
    VOD,
    Appeal,
    AuditEntry,
    Case,
    ChannelRole,
    ChatMessage,
    DmcaNotice,
    ModerationAction,
    Notification,
    Report,
    Sanction,
    User,
    utcnow,
)
from app.safety import actions
from app.safety.actions import ActionError
from tests.conftest import page_text, run_jobs
from tests.factories import make_user

from .conftest import say
from .test_dmca import make_vod, send_notice
from .test_loop import STATEMENT, client_of, post, report_message


def case_of(message) -> Case:
    return db.session.scalars(select(Case).where(Case.target_type == "message",
                                                 Case.target_id == message.id)).one()


def test_a_moderator_gets_no_case_about_the_owner_or_a_fellow_moderator(app, people):
    alice, dave = people["alice"], people["dave"]
    erin = make_user("erin")
    db.session.add(ChannelRole(channel_id=alice.channel.id, user_id=erin.id, role="moderator"))
    db.session.commit()
    by_owner, by_moderator = say(alice, alice.channel, "owner line"), say(erin, alice.channel, "erin line")
    by_bob = say(people["bob"], alice.channel, "bob line")
    carol = client_of(app, "carol")
    for message in (by_owner, by_moderator, by_bob):
        assert report_message(carol, message.id).status_code == 200
    owner_case, moderator_case, bob_case = case_of(by_owner), case_of(by_moderator), case_of(by_bob)

    dave_client = client_of(app, "dave")
    queue = dave_client.get("/moderation/reports").get_data(as_text=True)
    assert f"/moderation/reports/{bob_case.id}\"" in queue
    for case in (owner_case, moderator_case):
        assert f"/moderation/reports/{case.id}\"" not in queue
        assert dave_client.get(f"/moderation/reports/{case.id}").status_code == 404
        # What used to answer 500: refused, and nothing changes.
        refused = post(dave_client, f"/moderation/reports/{case.id}/action",
                       {"kind": "remove", "rule": "rule-1", "statement": STATEMENT},
                       token_from=f"/moderation/reports/{bob_case.id}")
        assert refused.status_code == 404
        with pytest.raises(ActionError) as error:
            actions.decide_case(case, dave, "remove", "rule-1", STATEMENT)
        assert error.value.status == 403
    db.session.expire_all()
    assert {m.state for m in db.session.scalars(select(ChatMessage))} == {"visible"}
    assert db.session.scalar(select(Sanction.id)) is None
    assert {c.state for c in db.session.scalars(select(Case))} == {"open"}
    # The owner handles the case about her moderator; the site's staff the one about her.
    alice_queue = client_of(app, "alice").get("/moderation/reports").get_data(as_text=True)
    assert f"/moderation/reports/{moderator_case.id}\"" in alice_queue
    assert f"/moderation/reports/{owner_case.id}\"" not in alice_queue
    root_queue = client_of(app, "root").get("/moderation/reports").get_data(as_text=True)
    assert all(f"/moderation/reports/{c.id}\"" in root_queue for c in (owner_case, moderator_case, bob_case))
    done = post(client_of(app, "alice"), f"/moderation/reports/{moderator_case.id}/action",
                {"kind": "remove", "rule": "rule-1", "statement": STATEMENT},
                token_from=f"/moderation/reports/{moderator_case.id}")
    assert done.status_code == 303, page_text(done)
    db.session.expire_all()
    assert db.session.get(ChatMessage, by_moderator.id).state == "deleted"


def test_a_decision_is_one_transaction(app, people, chat):
    report_message(client_of(app, "carol"), chat[25].id)
    case = case_of(chat[25])
    dave, bob = people["dave"], people["bob"]
    # Everything the removal does waits for the caller's commit: a failure after it leaves nothing.
    actions.act(dave, bob, "remove", "rule-1", STATEMENT, case=case, channel_id=case.channel_id)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(ChatMessage, chat[25].id).state == "visible"
    assert db.session.scalar(select(ModerationAction.id)) is None
    assert db.session.scalar(select(Sanction.id)) is None
    # Committed whole, the message is gone with its mod-log line, and the case closed.
    actions.decide_case(case, dave, "remove", "rule-1", STATEMENT)
    db.session.expire_all()
    assert db.session.get(ChatMessage, chat[25].id).state == "deleted"
    assert db.session.scalars(select(ModerationAction)).one().kind == "delete"
    assert db.session.get(Case, case.id).state == "actioned"


def test_members_who_reported_hear_the_outcome_and_staff_replies(app, mailbox, people, chat):
    carol, erin = people["carol"], make_user("erin")
    carol.email_verified_at = utcnow()  # erin's address is not verified: no mail for her
    db.session.commit()
    for name in ("carol", "erin"):
        assert report_message(client_of(app, name), chat[25].id).status_code == 200
    case = case_of(chat[25])
    carol_report = db.session.scalars(select(Report).where(Report.reporter_id == carol.id)).one()
    dave = client_of(app, "dave")
    case_page = f"/moderation/reports/{case.id}"
    assert post(dave, f"{case_page}/reply/{carol_report.id}", {"body": "Did this happen before?"},
                token_from=case_page).status_code == 303
    assert post(dave, f"{case_page}/action", {"kind": "remove", "rule": "rule-1", "statement": STATEMENT},
                token_from=case_page).status_code == 303
    run_jobs(app)

    def kinds(user) -> list[str]:
        return [n.kind for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                                   .order_by(Notification.id))]

    assert kinds(carol) == ["report_reply", "report_decided"]
    assert kinds(erin) == ["report_decided"]
    assert kinds(people["bob"]) == [] and kinds(people["dave"]) == []
    listed = page_text(client_of(app, "carol").get("/notifications"))
    assert "Your report was reviewed" in listed and "Staff wrote to you about your report" in listed
    reply_mail, outcome_mail = mailbox.to("carol@example.com")
    assert f"/reports/{carol_report.id}" in reply_mail.get_content()
    outcome = outcome_mail.get_content()
    assert "We removed the content you reported." in outcome and STATEMENT not in outcome
    assert "dave" not in outcome.lower() and "dave" not in reply_mail.get_content().lower()
    assert mailbox.to("erin@example.com") == []
    # The reported person's mail names no reporter.
    for mailed in mailbox.to("bob@example.com"):
        assert "carol" not in mailed.get_content().lower() and "erin" not in mailed.get_content().lower()

    # Bob appeals and an admin upholds it: the message is back, and the reporters are told so.
    removal = db.session.scalars(select(Sanction).where(Sanction.case_id == case.id)).one()
    with app.test_request_context("/"):  # as the appeals page does it: the line back in chat is rendered
        appeal_and_uphold(removal, people["root"])
    run_jobs(app)
    assert kinds(carol) == ["report_reply", "report_decided", "report_decided"]
    assert kinds(erin) == ["report_decided", "report_decided"]
    assert actions.REVERSED in mailbox.to("carol@example.com")[-1].get_content()
    assert actions.REVERSED in page_text(client_of(app, "carol").get(f"/reports/{carol_report.id}"))


def test_a_dismissal_reaches_the_members_who_reported(app, mailbox, people, chat):
    people["carol"].email_verified_at = utcnow()
    db.session.commit()
    report_message(client_of(app, "carol"), chat[25].id)
    case = case_of(chat[25])
    assert post(client_of(app, "alice"), f"/moderation/reports/{case.id}/dismiss", {"note": "Banter"},
                token_from=f"/moderation/reports/{case.id}").status_code == 303
    run_jobs(app)
    assert [n.kind for n in db.session.scalars(select(Notification))] == ["report_decided"]
    [mailed] = mailbox.to("carol@example.com")
    assert "found nothing that breaks our rules" in mailed.get_content() and "Banter" not in mailed.get_content()


def appeal_and_uphold(sanction: Sanction, decider: User) -> None:
    made = actions.appeal(sanction, sanction.user, "That was not me.")
    actions.decide_appeal(made, decider, True, "You are right.")


def test_an_upheld_strike_appeal_lifts_the_escalation_it_caused(app, people):
    bob, root = people["bob"], people["root"]
    other_admin = make_user("root2", admin=True)
    made = []
    for _ in range(4):
        made += actions.act(root, bob, "strike", "rule-1", STATEMENT)
        db.session.commit()
    strikes = [each for each in made if each.kind == "strike"]
    live, account = (next(each for each in made if each.kind == kind) for kind in ("live_suspend", "account_suspend"))
    assert bob.disabled and bob.channel.live_banned
    # The fourth strike's appeal: the account suspension goes; three strikes still justify the live ban.
    appeal_and_uphold(strikes[3], other_admin)
    db.session.expire_all()
    assert db.session.get(Sanction, account.id).reversed_at is not None and not bob.disabled
    assert db.session.get(Sanction, live.id).reversed_at is None and bob.channel.live_banned
    # The third strike's appeal: two left, the live ban goes too.
    appeal_and_uphold(strikes[2], other_admin)
    db.session.expire_all()
    assert db.session.get(Sanction, live.id).reversed_at is not None and not bob.channel.live_banned
    lifted = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("sanction.%.lifted"))).all()
    assert sorted(lifted) == ["sanction.account_suspend.lifted", "sanction.live_suspend.lifted"]


def test_an_upheld_appeal_of_a_dmca_strike_restores_the_video(app, mailbox, people):
    alice = people["alice"]
    vod = make_vod(alice)
    assert send_notice(app, vod).status_code in (200, 303)
    db.session.expire_all()
    notice = db.session.scalars(select(DmcaNotice)).one()
    strike = db.session.get(Sanction, notice.strike_id)
    assert db.session.get(VOD, vod.id).disabled_at is not None
    appeal_and_uphold(strike, people["root"])
    db.session.expire_all()
    assert db.session.get(VOD, vod.id).disabled_at is None
    notice = db.session.get(DmcaNotice, notice.id)
    assert notice.state == "restored" and notice.closed_at is not None
    assert db.session.get(Appeal, strike.appeal.id).state == "upheld"
    run_jobs(app)
    assert any("Your video is back" in str(m["Subject"]) for m in mailbox.to("alice@example.com"))
    assert any("A video you reported is back" in str(m["Subject"]) for m in mailbox.to("jo@example.org"))


def test_in_review_tab_person_link_and_notes_in_the_audit_log(app, people, chat):
    report_message(client_of(app, "carol"), chat[25].id)
    case = case_of(chat[25])
    root = client_of(app, "root")
    case_page = f"/moderation/reports/{case.id}"
    link = f'href="/moderation/reports/{case.id}"'
    assert link in root.get("/moderation/reports").get_data(as_text=True)
    assert link not in root.get("/moderation/reports?state=in_review").get_data(as_text=True)
    assert post(root, f"{case_page}/claim", {}, token_from=case_page).status_code == 303
    assert link in root.get("/moderation/reports?state=in_review").get_data(as_text=True)
    assert link not in root.get("/moderation/reports").get_data(as_text=True)
    assert "In review" in page_text(root.get("/moderation/reports"))
    page = root.get(case_page).get_data(as_text=True)
    assert 'href="/admin/people/bob"' in page and 'href="/admin/people/carol"' not in page
    assert "/admin/people/" not in client_of(app, "alice").get(case_page).get_data(as_text=True)
    assert post(root, f"{case_page}/note", {"body": "Staff only: watch bob"}, token_from=case_page).status_code == 303
    line = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case.note")).one()
    assert (line.actor_name, line.target_id) == ("root", case.id) and "watch bob" not in line.detail
    assert re.match(r"note \d+", line.detail)
