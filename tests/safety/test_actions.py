"""Actions with consequences: strikes that expire and escalate, live suspensions the publish hook
enforces, account suspensions a person can still read and appeal by the mailed link, suspensions
that end by themselves, the admin page and the `flask safety` commands, and evidence kept from
retention."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.channels import services as channels
from app.extensions import db
from app.models import VOD, AuditEntry, Case, Sanction, User, utcnow
from app.safety import actions
from app.streams import services as streams
from app.vods.retention import expired_vods
from tests.conftest import Actions, page_text, run_jobs
from tests.factories import PASSWORD

from .test_loop import client_of, post, report_message

STATEMENT = "Repeated harassment in chat after warnings."



def reload(user: User) -> User:
    db.session.expire_all()
    found = db.session.get(User, user.id)
    assert found is not None
    return found


def test_strikes_expire_and_the_third_suspends_going_live(app, people, ingest_control):
    bob, root = people["bob"], people["root"]
    key = channels.rotate_stream_key(bob.channel)
    made = []
    for _ in range(3):
        made += actions.act(root, bob, "strike", "rule-1", STATEMENT)
        db.session.commit()
    assert [each.kind for each in made] == ["strike", "strike", "strike", "live_suspend"]
    automatic = made[-1]
    assert automatic.automated and automatic.actor_id is None and "3 active strikes" in automatic.statement
    assert made[0].expires_at - made[0].created_at == timedelta(days=app.config["STRIKE_EXPIRY_DAYS"])
    with pytest.raises(streams.PublishRefused, match="banned from going live"):
        streams.go_live(key, ingest="nginx", client_id="1")
    # A week later the suspension ends by itself (the hourly retention job), and publishing works.
    automatic.expires_at = bob.channel.live_banned_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert actions.lift_expired() == 1
    assert not reload(bob).channel.live_banned
    assert streams.go_live(key, ingest="nginx", client_id="1") is not None
    # Expired strikes stop counting.
    for strike in made[:3]:
        strike.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert actions.active_strikes(bob) == 0


def test_a_live_suspension_takes_the_channel_off_air(app, people, ingest_control):
    bob, root = people["bob"], people["root"]
    key = channels.rotate_stream_key(bob.channel)
    session = streams.go_live(key, ingest="nginx", client_id="77")
    [sanction] = actions.act(root, bob, "live_suspend", "rule-2", STATEMENT, days=7)
    db.session.commit()
    assert bob.channel.live_banned and session.ended_at is None  # ending a session commits: after
    actions.notify(sanction)
    db.session.expire_all()
    assert session.ended_at is not None
    assert any("drop/publisher" in path for path in ingest_control)


def test_a_suspended_account_reads_and_appeals_by_the_mailed_link(app, mailbox, people):
    bob = people["bob"]
    signed_in = client_of(app, "bob")
    root = client_of(app, "root")
    done = post(root, "/admin/people/bob", {"kind": "account_suspend", "rule": "rule-1", "statement": STATEMENT,
                                           "days": "30"})
    assert done.status_code == 303, page_text(done)
    bob = reload(bob)
    assert bob.disabled and bob.suspended_until > utcnow() + timedelta(days=29)
    assert signed_in.get("/notices").status_code in (302, 303)  # signed out everywhere
    refused = Actions(app.test_client()).login("bob", PASSWORD)
    assert refused.status_code != 303
    run_jobs(app)
    [mailed] = mailbox.to("bob@example.com")
    link = re.search(r"http://localhost(/notices/\d+/\S+)", mailed.get_content()).group(1)
    anonymous = app.test_client()
    page = page_text(anonymous.get(link))
    assert "Account suspended" in page and STATEMENT in page and "By a member of staff" in page
    assert anonymous.get(link[:-3] + "abc").status_code == 404  # a forged link
    assert post(anonymous, link, {"text": "I was not the one writing."}).status_code == 303
    sanction = db.session.scalars(select(Sanction)).one()
    # The admin who suspended cannot decide; another admin can, and the account is back.
    assert post(root, f"/moderation/appeals/{sanction.appeal.id}",
                {f"appeal{sanction.appeal.id}-outcome": "uphold", f"appeal{sanction.appeal.id}-decision": "x"},
                token_from="/moderation/appeals").status_code == 404
    from tests.factories import make_user

    make_user("judge", admin=True)
    judge = client_of(app, "judge")
    assert post(judge, f"/moderation/appeals/{sanction.appeal.id}",
                {f"appeal{sanction.appeal.id}-outcome": "uphold",
                 f"appeal{sanction.appeal.id}-decision": "The account was shared; restored."},
                token_from="/moderation/appeals").status_code == 303
    bob = reload(bob)
    assert not bob.disabled and bob.suspended_until is None
    assert Actions(app.test_client()).login("bob", PASSWORD).status_code == 303


def test_an_account_suspension_ends_by_itself(app, people):
    bob = people["bob"]
    [sanction] = actions.act(people["root"], bob, "account_suspend", "rule-1", STATEMENT, days=3)
    db.session.commit()
    assert actions.lift_expired() == 0
    sanction.expires_at = bob.suspended_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert actions.lift_expired() == 1 and not reload(bob).disabled
    assert db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc())).first() == \
        "sanction.account_suspend.expired"


def test_one_appeal_within_the_window(app, people):
    bob = people["bob"]
    [sanction] = actions.act(people["root"], bob, "warn", "rule-1", STATEMENT)
    db.session.commit()
    sanction.created_at = utcnow() - timedelta(days=app.config["APPEAL_WINDOW_DAYS"] + 1)
    db.session.commit()
    with pytest.raises(actions.ActionError, match="time to appeal"):
        actions.appeal(sanction, bob, "please")
    assert "The time to appeal this decision has passed." in page_text(
        client_of(app, "bob").get(f"/notices/{sanction.id}"))
    assert client_of(app, "carol").get(f"/notices/{sanction.id}").status_code == 404


@pytest.mark.parametrize("kind", ["account_suspend", "terminate"])
def test_admins_cannot_be_suspended_from_the_page(app, people, kind):
    from tests.factories import make_user

    make_user("other", admin=True)
    refused = post(client_of(app, "root"), "/admin/people/other",
                   {"kind": kind, "rule": "rule-1", "statement": STATEMENT})
    other = db.session.scalars(select(User).where(User.username == "other")).one()
    assert refused.status_code == 409 and not other.disabled
    assert db.session.scalar(select(Sanction.id)) is None


def test_the_console_commands(app, people, runner):
    result = runner.invoke(args=["safety", "live-ban", "bob", "--rule", "rule-2", "--statement", STATEMENT,
                                 "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "Suspended from going live: @bob until" in result.output
    assert reload(people["bob"]).channel.live_banned
    assert runner.invoke(args=["safety", "live-unban", "bob"]).exit_code == 0
    assert not reload(people["bob"]).channel.live_banned
    result = runner.invoke(args=["safety", "suspend", "carol", "--statement", STATEMENT])
    carol = reload(people["carol"])
    assert result.exit_code == 0 and carol.disabled and carol.suspended_until is None
    assert runner.invoke(args=["safety", "unsuspend", "carol"]).exit_code == 0 and not reload(people["carol"]).disabled
    bad = runner.invoke(args=["safety", "suspend", "carol", "--rule", "rule-99", "--statement", STATEMENT])
    assert bad.exit_code != 0 and "Choose the rule" in bad.output
    assert runner.invoke(args=["safety", "suspend", "nobody", "--statement", "x"]).exit_code != 0
    audit = runner.invoke(args=["safety", "audit"]).output
    assert "console (operator)" in audit and "sanction.live_suspend" in audit
    assert "rule-1\tRule 1:" in runner.invoke(args=["safety", "rules"]).output


def test_a_reported_vod_is_kept_from_retention_while_its_case_is_open(app, people):
    alice = people["alice"]
    vod = VOD(channel_id=alice.channel.id, object_key="vods/1/master.m3u8", title="Old stream",
              visibility="public", created_at=utcnow() - timedelta(days=400), duration_seconds=60)
    db.session.add(vod)
    db.session.commit()
    assert vod in expired_vods()
    sent = post(client_of(app, "carol"), f"/report/vod/{vod.id}",
                {"reason": "rule-3", "range_start": "10", "range_end": "20"})
    assert sent.status_code == 200
    case = db.session.scalars(select(Case)).one()
    assert (case.reports[0].range_start, case.reports[0].range_end) == (10, 20)
    assert vod not in expired_vods()
    actions.dismiss_case(case, people["root"])
    assert vod in expired_vods()


def test_a_vod_range_outside_the_video_is_refused(app, people):
    vod = VOD(channel_id=people["alice"].channel.id, object_key="vods/2/master.m3u8", visibility="public",
              duration_seconds=60)
    db.session.add(vod)
    db.session.commit()
    refused = post(client_of(app, "carol"), f"/report/vod/{vod.id}",
                   {"reason": "rule-3", "range_start": "50", "range_end": "90"})
    assert refused.status_code == 400 and "within the video" in page_text(refused)
    assert db.session.scalar(select(Case.id)) is None


def test_a_channel_report_keeps_the_live_moment(app, people):
    from tests.factories import make_live

    session = make_live(people["alice"])
    session.started_at = utcnow() - timedelta(seconds=95)
    db.session.commit()
    assert post(client_of(app, "carol"), f"/report/channel/{people['alice'].channel.id}",
                {"reason": "rule-4"}).status_code == 200
    report = db.session.scalars(select(Case)).one().reports[0]
    assert 94 <= report.range_start <= 100 and report.evidence["session_id"] == session.id


def test_reporting_from_the_chat_opens_the_form_as_a_fragment(app, people, chat):
    carol = client_of(app, "carol")
    fragment = carol.get(f"/report/message/{chat[25].id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'hx-post="/report/message/' in fragment
    sent = report_message(carol, chat[25].id)
    assert sent.status_code == 200


def test_an_admin_live_bans_from_the_page_and_lifts_it(app, people, ingest_control):
    root = client_of(app, "root")
    page = root.get("/admin/people/bob").get_data(as_text=True)
    assert "Act on this account" in page and "0 active strikes" in page
    assert post(root, "/admin/people/bob", {"kind": "live_suspend", "rule": "rule-6", "statement": STATEMENT}
                ).status_code == 303
    bob = reload(people["bob"])
    assert bob.channel.live_banned and bob.channel.live_banned_until is None  # no days: until lifted
    assert "banned from going live" in page_text(root.get("/admin/people/bob"))
    sanction = db.session.scalars(select(Sanction)).one()
    assert post(root, f"/admin/people/bob/lift/{sanction.id}", {}, token_from="/admin/people/bob").status_code == 303
    assert not reload(people["bob"]).channel.live_banned
    assert client_of(app, "alice").post(f"/admin/people/bob/lift/{sanction.id}").status_code in (400, 403)


def test_staff_remove_a_reported_video_and_an_upheld_appeal_brings_it_back(app, people):
    vod = VOD(channel_id=people["alice"].channel.id, object_key="vods/9/master.m3u8", title="Stunt",
              visibility="public", duration_seconds=60)
    db.session.add(vod)
    db.session.commit()
    assert post(client_of(app, "carol"), f"/report/vod/{vod.id}", {"reason": "rule-4"}).status_code == 200
    case = db.session.scalars(select(Case)).one()
    assert post(client_of(app, "root"), f"/moderation/reports/{case.id}/action",
                {"kind": "remove", "rule": "rule-4", "statement": STATEMENT},
                token_from=f"/moderation/reports/{case.id}").status_code == 303
    gone = app.test_client().get(f"/c/alice/videos/{vod.id}")
    assert gone.status_code == 410 and "removed it for breaking a rule" in page_text(gone)
    owner = client_of(app, "alice")
    assert "Read why, and appeal" in page_text(owner.get(f"/c/alice/videos/{vod.id}"))
    [sanction] = db.session.scalars(select(Sanction)).all()
    actions.appeal(sanction, people["alice"], "It was a stunt with safety crew.")
    from tests.factories import make_user

    actions.decide_appeal(sanction.appeal, make_user("judge", admin=True), True, "Safety crew shown; restored.")
    assert app.test_client().get(f"/c/alice/videos/{vod.id}").status_code == 200
