"""Evidence kept from deletion (app.safety.holds): the owner's delete button and retention both
refuse a VOD under an open case, a pending appeal, an appealable removal or an open DMCA notice,
and a broadcast a channel report named; once that is closed the video can go again."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import VOD, Case, DmcaNotice, Sanction, StreamSession, utcnow
from app.safety import actions, holds, takedown
from app.vods import retention
from tests.conftest import csrf_from, page_text
from tests.factories import make_live, make_user

from .test_dmca import COUNTER, make_vod, send_notice
from .test_loop import client_of, post

STATEMENT = "This video shows a stranger's home address; that breaks the rules."
REFUSED = "This video can't be deleted yet"


def delete(client, vod_id: int, fragment: bool = False):
    """The dashboard's delete, as its confirm form posts it (htmx, or a plain browser)."""
    token = csrf_from(client.get("/dashboard/videos").get_data(as_text=True))
    return client.post(f"/dashboard/videos/{vod_id}/delete", data={"csrf_token": token},
                       headers={"HX-Request": "true"} if fragment else {})


def exists(vod_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(VOD, vod_id) is not None


def assert_refused(owner, vod_id: int, why: str) -> None:
    """The page (409) and the htmx fragment (200, so it is swapped in) both say why; nothing went."""
    page = delete(owner, vod_id)
    assert page.status_code == 409 and REFUSED in page_text(page) and why in page_text(page)
    assert "<html" in page.get_data(as_text=True)
    fragment = delete(owner, vod_id, fragment=True)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text and 'id="vod-library"' in text
    assert REFUSED in page_text(fragment) and why in page_text(fragment)
    # Asking to delete shows the reason instead of the confirmation.
    asked = owner.get(f"/dashboard/videos/{vod_id}/delete", headers={"HX-Request": "true"})
    assert why in page_text(asked) and "Delete video</button>" not in asked.get_data(as_text=True)
    assert exists(vod_id)
    assert vod_id not in {vod.id for vod in retention.expired_vods(utcnow() + timedelta(days=400))}


def assert_deletable(owner, vod_id: int) -> None:
    assert holds.hold_on(db.session.get(VOD, vod_id)) is None
    assert vod_id in {vod.id for vod in retention.expired_vods(utcnow() + timedelta(days=400))}
    done = delete(owner, vod_id)
    assert done.status_code == 303, page_text(done)
    assert not exists(vod_id)


def report_vod(app, vod: VOD) -> Case:
    assert post(client_of(app, "carol"), f"/report/vod/{vod.id}", {"reason": "rule-1", "details": "doxxing"}
                ).status_code == 200
    return db.session.scalars(select(Case).where(Case.target_type == "vod")).one()


def test_an_open_case_holds_the_video_until_it_is_dismissed(app, people):
    vod = make_vod(people["alice"])
    owner = client_of(app, "alice")
    case = report_vod(app, vod)
    assert_refused(owner, vod.id, "report is still being reviewed")
    actions.dismiss_case(case, people["root"], "Nothing wrong here.")
    assert_deletable(owner, vod.id)


def test_a_pending_appeal_holds_the_video_until_it_is_decided(app, people):
    alice = people["alice"]
    vod = make_vod(alice)
    owner = client_of(app, "alice")
    case = report_vod(app, vod)
    [warning] = actions.decide_case(case, people["root"], "warn", "rule-1", STATEMENT)
    db.session.commit()
    assert holds.hold_on(vod) is None  # a warning (no removal) keeps nothing once decided
    actions.appeal(warning, alice, "The address is a film set, not a home.")
    assert_refused(owner, vod.id, "an appeal about it is waiting for a decision")
    judge = make_user("judge", admin=True)
    actions.decide_appeal(warning.appeal, judge, False, "It is a home address.")
    assert_deletable(owner, vod.id)


def test_a_removed_video_is_held_while_the_removal_can_be_appealed(app, people):
    vod = make_vod(people["alice"])
    owner = client_of(app, "alice")
    case = report_vod(app, vod)
    [removal] = actions.decide_case(case, people["root"], "remove", "rule-1", STATEMENT)
    db.session.commit()
    assert_refused(owner, vod.id, "can still be appealed")
    removal = db.session.get(Sanction, removal.id)
    removal.created_at = utcnow() - timedelta(days=app.config["APPEAL_WINDOW_DAYS"], minutes=1)
    db.session.commit()
    assert actions.appeal_refusal(removal) is not None  # the window has passed
    assert_deletable(owner, vod.id)


def test_a_dmca_notice_holds_the_video_until_it_is_closed(app, people):
    vod = make_vod(people["alice"])
    owner = client_of(app, "alice")
    assert send_notice(app, vod).status_code == 200
    notice = db.session.scalars(select(DmcaNotice)).one()
    assert_refused(owner, vod.id, "copyright (DMCA) notice")
    assert post(owner, f"/dmca/notices/{notice.id}/counter", COUNTER).status_code == 303
    assert_refused(owner, vod.id, "copyright (DMCA) notice")  # counter-noticed: not settled yet
    db.session.expire_all()
    notice = db.session.get(DmcaNotice, notice.id)
    assert takedown.restore_due(notice.restore_at) == 1
    assert_deletable(owner, vod.id)


def test_a_lawsuit_keeps_the_video_held(app, people):
    vod = make_vod(people["alice"])
    send_notice(app, vod)
    notice = db.session.scalars(select(DmcaNotice)).one()
    takedown.counter_notice(notice.id, people["alice"], COUNTER)
    takedown.report_lawsuit(db.session.get(DmcaNotice, notice.id))
    assert holds.hold_on(db.session.get(VOD, vod.id)) == holds.COPYRIGHT


def test_a_channel_report_holds_the_broadcast_while_the_case_or_an_appeal_is_pending(app, people):
    alice = people["alice"]
    session = make_live(alice)
    assert post(client_of(app, "carol"), f"/report/channel/{alice.channel.id}", {"reason": "rule-4"}
                ).status_code == 200
    case = db.session.scalars(select(Case)).one()
    session = db.session.get(StreamSession, session.id)
    session.status, session.ended_at = "ended", utcnow() - timedelta(days=2)
    vod = VOD(channel_id=alice.channel.id, session_id=session.id, object_key="vods/x/master.m3u8",
              title="The reported broadcast", visibility="public", duration_seconds=600)
    db.session.add(vod)
    db.session.commit()
    owner = client_of(app, "alice")
    cutoff = utcnow() - timedelta(days=1)  # the sweep's grace: this broadcast ended before it
    assert_refused(owner, vod.id, "recorded a broadcast someone reported")
    # Its live recording is kept by the orphan sweep too (which would delete it: it is a VOD now).
    assert retention.live_output_verdict(session, cutoff)[0] == retention.DELETE
    assert retention.live_output_verdict(session, cutoff, set(holds.held_session_ids()))[0] == retention.KEEP

    [strike] = [each for each in actions.decide_case(case, people["root"], "strike", "rule-4", STATEMENT)
                if each.kind == "strike"]
    db.session.commit()
    assert holds.hold_on(vod) is None and session.id not in holds.held_session_ids()
    actions.appeal(strike, alice, "That was a clip from a licensed film.")
    assert_refused(owner, vod.id, "recorded a broadcast someone reported")
    actions.decide_appeal(strike.appeal, make_user("judge", admin=True), False, "It was not licensed.")
    assert retention.live_output_verdict(session, cutoff, set(holds.held_session_ids()))[0] == retention.DELETE
    assert_deletable(owner, vod.id)


def test_deleting_an_unheld_video_from_the_dashboard_still_works_as_a_fragment(app, people):
    vod = make_vod(people["alice"])
    done = delete(client_of(app, "alice"), vod.id, fragment=True)
    assert done.status_code == 200 and "Deleted “Rain cover”" in page_text(done)
    assert not exists(vod.id)
