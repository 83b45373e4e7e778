"""The hourly retention run prunes the personal data of settled trust-and-safety records
(app.privacy.records): a decided case's evidence and signed-out senders' e-mails, a closed DMCA
notice's contact details; open ones, and ones whose appeal is pending, keep theirs. The privacy
policy states the period from the same setting."""
from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import Appeal, Case, DmcaNotice, Report, Sanction, utcnow
from app.privacy import records
from tests.conftest import page_text
from tests.factories import make_user

EVIDENCE = {"lines": [{"id": 1, "user": "bob", "text": "bob's line", "at": "2024-05-01T20:00:00",
                       "state": "visible", "reported": True}]}


def case_with_report(state: str, decided_days_ago: int | None, target_id: int) -> Report:
    decided = utcnow() - timedelta(days=decided_days_ago) if decided_days_ago is not None else None
    case = Case(target_type="message", target_id=target_id, target_label="a line", reason="illegal", priority=1,
                state=state, decided_at=decided)
    db.session.add(case)
    db.session.flush()
    report = Report(case_id=case.id, reason="illegal", details="my own words", contact_email="sender@example.com",
                    good_faith=True, evidence=EVIDENCE)
    db.session.add(report)
    db.session.commit()
    return report


def notice(state: str, closed_days_ago: int | None) -> DmcaNotice:
    row = DmcaNotice(material_label="a video", material_url="http://live.test/v", work="A work",
                     claimant_name="Label Records", claimant_address="1 Label Road", claimant_phone="555 0199",
                     claimant_email="legal@label.example", state=state, counter_name="Uploader Realname",
                     counter_address="12 Home Street", counter_phone="+1 555 0100", counter_statement="Signed.",
                     closed_at=utcnow() - timedelta(days=closed_days_ago) if closed_days_ago is not None else None)
    db.session.add(row)
    db.session.commit()
    return row


def test_settled_records_lose_their_personal_data_after_the_period(app):
    boss = make_user("boss", admin=True)
    old = case_with_report("dismissed", 366, 1)
    recent = case_with_report("actioned", 300, 2)
    still_open = case_with_report("open", None, 3)
    appealed = case_with_report("actioned", 400, 4)
    strike = Sanction(case_id=appealed.case_id, user_id=boss.id, kind="warn", rule="illegal", rule_text="Rule.",
                      statement="Warned.")
    db.session.add(strike)
    db.session.flush()
    db.session.add(Appeal(sanction_id=strike.id, user_id=boss.id, text="please"))
    old_notice, recent_notice, lawsuit = notice("restored", 366, ), notice("retracted", 30), notice("lawsuit", None)
    db.session.commit()

    assert records.prune_safety_records() == {"reports_pruned": 1, "dmca_notices_pruned": 1}
    db.session.expire_all()
    assert (old.evidence, old.contact_email) == ({}, None)
    assert old.details == "my own words" and old.good_faith  # the record of the report stays
    for kept in (recent, still_open, appealed):
        assert kept.evidence == EVIDENCE and kept.contact_email == "sender@example.com"
    assert (old_notice.claimant_email, old_notice.claimant_address, old_notice.claimant_phone) == ("", "", "")
    assert (old_notice.counter_name, old_notice.counter_address, old_notice.counter_phone,
            old_notice.counter_statement) == (None, None, None, None)
    assert old_notice.claimant_name == "Label Records" and old_notice.work == "A work"
    for kept_notice in (recent_notice, lawsuit):
        assert kept_notice.counter_phone == "+1 555 0100" and kept_notice.claimant_email == "legal@label.example"
    assert records.prune_safety_records() == {"reports_pruned": 0, "dmca_notices_pruned": 0}  # safe twice

    # The appeal is decided: its case's evidence goes at the next run.
    db.session.scalars(db.select(Appeal)).one().state = "rejected"
    db.session.commit()
    assert records.prune_safety_records()["reports_pruned"] == 1


def test_the_period_is_never_shorter_than_the_appeal_window(app):
    app.config["SAFETY_RECORD_DAYS"] = 30
    assert records.keep_for() == timedelta(days=183)
    report = case_with_report("dismissed", 100, 1)
    assert records.prune_safety_records()["reports_pruned"] == 0
    assert records.prune_safety_records(utcnow() + timedelta(days=84))["reports_pruned"] == 1
    db.session.expire_all()
    assert report.evidence == {}


def test_the_privacy_policy_states_the_periods_and_the_mature_cookie(app):
    words = " ".join(page_text(app.test_client().get("/legal/privacy")).split())
    assert "deleted 365 days after it is decided" in words and "deleted 365 days after it closes" in words
    assert "The audit log" in words and "kept for good" in words
    assert "mature_ok" in words
    app.config["SAFETY_RECORD_DAYS"] = 400
    words = " ".join(page_text(app.test_client().get("/legal/privacy")).split())
    assert "deleted 400 days after it is decided" in words
