"""The DMCA workflow over HTTP: a notice missing elements is refused with them named and changes
nothing; a valid one disables the video (451, nothing playable) and strikes the uploader, who
counter-notices; the restore comes 10 business days later unless the claimant reports a lawsuit;
a retraction restores and removes the strike; three strikes terminate; every step is logged."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import VOD, AuditEntry, DmcaNotice, Sanction, User, utcnow
from app.safety import dmca, takedown
from app.vods.access import can_view_vod
from tests.conftest import Actions, page_text, run_jobs
from tests.factories import PASSWORD

from .test_loop import client_of, post

NOTICE = {"work": "My song 'Rain' (2024), https://example.org/rain", "signature": "Jo Owner",
          "address": "1 Main St, Springfield, IL", "phone": "+1 555 0100", "email": "jo@example.org",
          "good_faith": "y", "accurate": "y"}
COUNTER = {"material": "video at /c/alice/videos/1", "name": "Alice Uploader", "address": "2 Side St, Shelbyville",
           "phone": "+1 555 0101", "mistake": "y", "jurisdiction": "y", "signature": "Alice Uploader"}



def make_vod(owner, title: str = "Rain cover") -> VOD:
    vod = VOD(channel_id=owner.channel.id, object_key=f"vods/{title}/master.m3u8", title=title,
              visibility="public", duration_seconds=90)
    db.session.add(vod)
    db.session.commit()
    return vod


def send_notice(app, vod: VOD, **changes):
    data = {**NOTICE, "material_url": f"https://live.test/c/{vod.channel.slug}/videos/{vod.id}", **changes}
    return post(app.test_client(), "/dmca/notice", {key: value for key, value in data.items() if value is not None})


@pytest.mark.parametrize("missing, named", [("signature", "§512(c)(3)(A)(i)"), ("work", "§512(c)(3)(A)(ii)"),
                                            ("material_url", "§512(c)(3)(A)(iii)"), ("phone", "§512(c)(3)(A)(iv)"),
                                            ("good_faith", "§512(c)(3)(A)(v)"), ("accurate", "§512(c)(3)(A)(vi)")])
def test_a_notice_missing_an_element_is_refused_with_it_named(app, people, missing, named):
    vod = make_vod(people["alice"])
    refused = send_notice(app, vod, **{missing: None})
    assert refused.status_code == 400 and named in page_text(refused)
    db.session.expire_all()
    assert db.session.scalar(select(DmcaNotice.id)) is None and db.session.get(VOD, vod.id).disabled_at is None


def test_a_notice_must_name_a_video_on_this_site(app, people):
    refused = post(app.test_client(), "/dmca/notice", {**NOTICE, "material_url": "https://elsewhere.test/watch?v=1"})
    assert refused.status_code == 400 and "no video at that address" in page_text(refused)


def test_notice_counter_notice_and_restore_after_ten_business_days(app, mailbox, people):
    alice = people["alice"]
    vod = make_vod(alice)
    sent = send_notice(app, vod)
    assert sent.status_code == 200 and "Your notice was received" in page_text(sent)
    notice = db.session.scalars(select(DmcaNotice)).one()
    db.session.expire_all()
    vod = db.session.get(VOD, vod.id)
    assert vod.disabled_at is not None and not can_view_vod(vod, alice)
    # The page answers 451 for everyone; the uploader gets the way to counter-notice.
    anonymous = app.test_client().get(f"/c/alice/videos/{vod.id}")
    assert anonymous.status_code == 451 and "counter-notice" not in page_text(anonymous)
    owner = client_of(app, "alice")
    page = owner.get(f"/c/alice/videos/{vod.id}")
    assert page.status_code == 451 and f"/dmca/notices/{notice.id}/counter" in page.get_data(as_text=True)
    assert owner.get(f"/vods/{vod.id}/master.m3u8").status_code in (403, 404)
    strike = db.session.scalars(select(Sanction)).one()
    assert (strike.kind, strike.rule, strike.automated, strike.user_id) == ("strike", "copyright", True, alice.id)
    run_jobs(app)
    assert "Your copyright notice was received" in mailbox.to("jo@example.org")[0]["Subject"]
    statement = mailbox.to("alice@example.com")[0].get_content()
    assert "Jo Owner sent a copyright (DMCA) notice" in statement

    # A counter-notice missing its perjury statement is refused; a complete one schedules the restore.
    refused = post(owner, f"/dmca/notices/{notice.id}/counter", {**COUNTER, "mistake": ""})
    assert refused.status_code == 400 and "§512(g)(3)(C)" in page_text(refused)
    assert post(owner, f"/dmca/notices/{notice.id}/counter", COUNTER).status_code == 303
    db.session.expire_all()
    notice = db.session.get(DmcaNotice, notice.id)
    assert notice.state == "counter_noticed"
    assert notice.restore_at == dmca.restore_window(notice.counter_received_at)[0]
    assert client_of(app, "bob").get(f"/dmca/notices/{notice.id}/counter").status_code == 404
    run_jobs(app)
    copy = mailbox.to("jo@example.org")[-1].get_content()
    assert "Alice Uploader" in copy and "2 Side St" in copy and notice.restore_at.strftime("%Y-%m-%d") in copy

    assert takedown.restore_due(notice.restore_at - timedelta(minutes=1)) == 0
    assert takedown.restore_due(notice.restore_at) == 1
    db.session.expire_all()
    assert db.session.get(VOD, vod.id).disabled_at is None and db.session.get(DmcaNotice, notice.id).state == "restored"
    assert db.session.get(Sanction, strike.id).reversed_at is not None
    assert app.test_client().get(f"/c/alice/videos/{vod.id}").status_code == 200
    logged = [line.action for line in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert logged == ["sanction.strike", "dmca.notice", "dmca.counter_notice", "dmca.restored"]


def test_a_reported_lawsuit_keeps_the_video_disabled(app, mailbox, people):
    vod = make_vod(people["alice"])
    send_notice(app, vod)
    notice = db.session.scalars(select(DmcaNotice)).one()
    post(client_of(app, "alice"), f"/dmca/notices/{notice.id}/counter", COUNTER)
    run_jobs(app)
    link = re.search(r"http://localhost(/dmca/notices/\d+/claimant/\S+)", mailbox.to("jo@example.org")[0].get_content())
    claimant = app.test_client()
    assert claimant.get(link.group(1)[:-2] + "xx").status_code == 404
    assert post(claimant, link.group(1), {"action": "lawsuit"}).status_code == 303
    db.session.expire_all()
    notice = db.session.get(DmcaNotice, notice.id)
    assert notice.state == "lawsuit" and notice.restore_at is None
    assert takedown.restore_due(utcnow() + timedelta(days=60)) == 0
    assert db.session.get(VOD, vod.id).disabled_at is not None


def test_a_retraction_restores_the_video_and_removes_the_strike(app, mailbox, people):
    vod = make_vod(people["alice"])
    send_notice(app, vod)
    run_jobs(app)
    link = re.search(r"http://localhost(/dmca/notices/\d+/claimant/\S+)", mailbox.to("jo@example.org")[0].get_content())
    assert post(app.test_client(), link.group(1), {"action": "retract"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(VOD, vod.id).disabled_at is None
    assert db.session.scalars(select(Sanction)).one().reversed_at is not None
    assert takedown.copyright_strikes(people["alice"]) == 0


def test_three_copyright_strikes_terminate_the_account(app, people):
    alice = people["alice"]
    vods = [make_vod(alice, f"cover {number}") for number in range(3)]
    for vod in vods:
        assert send_notice(app, vod).status_code == 200
    db.session.expire_all()
    alice = db.session.get(User, alice.id)
    kinds = [sanction.kind for sanction in db.session.scalars(select(Sanction).order_by(Sanction.id))]
    assert kinds.count("strike") == 3 and "terminate" in kinds and alice.disabled
    assert alice.suspended_until is None


def test_a_disabled_video_cannot_get_a_second_notice_and_admins_see_the_list(app, people):
    vod = make_vod(people["alice"])
    send_notice(app, vod)
    again = send_notice(app, vod)
    assert again.status_code == 409 and "disabled already" in page_text(again)
    assert "Jo Owner" in client_of(app, "root").get("/admin/dmca").get_data(as_text=True)
    assert client_of(app, "bob").get("/admin/dmca").status_code == 403


# --- the counter-notice by the mailed link ---------------------------------------------------------

COUNTER_LINK = re.compile(r"http://localhost(/dmca/notices/(\d+)/counter/\S+)")


def counter_links(mailbox, address: str) -> dict[int, str]:
    """{notice id: path} of the counter-notice links mailed to `address`."""
    found = {}
    for message in mailbox.to(address):
        for match in COUNTER_LINK.finditer(message.get_content()):
            found[int(match.group(2))] = match.group(1)
    return found


def test_the_uploader_is_mailed_a_counter_notice_link_that_works_signed_out(app, mailbox, people):
    vod = make_vod(people["alice"])
    send_notice(app, vod)
    notice = db.session.scalars(select(DmcaNotice)).one()
    run_jobs(app)
    [takedown_mail] = [message for message in mailbox.to("alice@example.com")
                       if "copyright notice disabled your video" in message["Subject"]]
    body = takedown_mail.get_content()
    assert "Jo Owner" in body and "My song 'Rain'" in body and "counter-notice" in body
    link = counter_links(mailbox, "alice@example.com")[notice.id]
    assert "jo@example.org" not in body and "555 0100" not in body  # the claimant's contact details stay ours

    signed_out = app.test_client()
    page = signed_out.get(link)
    assert page.status_code == 200 and "Send counter-notice" in page_text(page) and "Jo Owner" in page_text(page)
    # Every §512(g)(3) element is still required by this route.
    refused = post(signed_out, link, {**COUNTER, "jurisdiction": ""})
    assert refused.status_code == 400 and "§512(g)(3)(D)" in page_text(refused)
    refused = post(signed_out, link, {**COUNTER, "signature": ""})
    assert refused.status_code == 400 and "§512(g)(3)(A)" in page_text(refused)
    db.session.expire_all()
    assert db.session.get(DmcaNotice, notice.id).state == "disabled"
    sent = post(signed_out, link, COUNTER)
    assert sent.status_code == 303 and sent.headers["Location"].endswith(link)
    assert "Counter-notice sent" in page_text(signed_out.get(link))
    db.session.expire_all()
    notice = db.session.get(DmcaNotice, notice.id)
    assert notice.state == "counter_noticed" and notice.counter_name == "Alice Uploader"
    # Signed in, the notice page still leads to the form without any link.
    assert client_of(app, "alice").get(f"/dmca/notices/{notice.id}/counter").status_code == 200


def test_a_terminated_uploader_counter_notices_by_the_mailed_link(app, mailbox, people):
    alice = people["alice"]
    vods = [make_vod(alice, f"cover {number}") for number in range(3)]
    for vod in vods:
        assert send_notice(app, vod).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, alice.id).disabled
    assert Actions(app.test_client()).login("alice", PASSWORD).status_code != 303  # she cannot sign in
    run_jobs(app)
    links = counter_links(mailbox, "alice@example.com")
    notices = list(db.session.scalars(select(DmcaNotice).order_by(DmcaNotice.id)))
    assert set(links) == {notice.id for notice in notices}
    last = notices[-1]

    # The strike's statement, opened by its own mailed link, leads to the signed form too.
    statement_link = next(re.search(r"http://localhost(/notices/\d+/\S+)", message.get_content()).group(1)
                          for message in mailbox.to("alice@example.com")
                          if message["Subject"].startswith("Strike") and last.material_label in message.get_content())
    signed_out = app.test_client()
    statement = signed_out.get(statement_link).get_data(as_text=True)
    assert f"/dmca/notices/{last.id}/counter/" in statement

    assert post(signed_out, links[last.id], COUNTER).status_code == 303
    db.session.expire_all()
    last = db.session.get(DmcaNotice, last.id)
    assert last.state == "counter_noticed" and last.restore_at == dmca.restore_window(last.counter_received_at)[0]
    logged = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "dmca.counter_notice")).one()
    assert logged.actor_id == alice.id
    run_jobs(app)
    assert "Alice Uploader" in mailbox.to("jo@example.org")[-1].get_content()


def test_a_changed_expired_or_borrowed_counter_notice_link_is_refused(app, mailbox, people, monkeypatch):
    import time

    from app.safety import mails

    first, second = make_vod(people["alice"], "first"), make_vod(people["alice"], "second")
    send_notice(app, first)
    send_notice(app, second)
    one, two = db.session.scalars(select(DmcaNotice).order_by(DmcaNotice.id)).all()
    run_jobs(app)
    link = counter_links(mailbox, "alice@example.com")[one.id]
    client = app.test_client()
    assert client.get(link).status_code == 200
    tampered = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    assert client.get(tampered).status_code == 404
    assert client.get(link.replace(f"/notices/{one.id}/", f"/notices/{two.id}/")).status_code == 404
    # A notice's appeal link (same signer) does not open a counter-notice.
    strike_token = mails.notice_token(db.session.get(Sanction, one.strike_id))
    assert client.get(f"/dmca/notices/{one.id}/counter/{strike_token}").status_code == 404
    # Signed longer ago than the appeal window: expired.
    signed_at = time.time() - app.config["APPEAL_WINDOW_DAYS"] * 86400 - 60
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: signed_at)
        old = mails.counter_token(one)
    expired = f"/dmca/notices/{one.id}/counter/{old}"
    assert client.get(expired).status_code == 404
    refused = client.post(expired, data=COUNTER)
    assert refused.status_code in (400, 404)
    db.session.expire_all()
    assert db.session.get(DmcaNotice, one.id).state == "disabled"
