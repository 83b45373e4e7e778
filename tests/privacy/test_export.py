"""A copy of my data (Settings → Your data): asked for on the page, built by the RQ job into a ZIP
kept privately in storage, mailed as an expiring link that opens for its owner only, at most one
a week, and deleted by the hourly retention run when the link expires."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import DataExport, User, utcnow
from app.privacy import exports
from app.storage.backends import PUBLIC_PREFIXES, get_storage
from tests.conftest import Actions, page_text, run_jobs
from tests.factories import make_user
from tests.mailserver import Mailbox
from tests.privacy.people import ALICE_WORDS, OTHERS_WORDS, populate


def ask(client):
    return Actions(client).post("/settings/privacy/export", token_from="/settings/privacy")


def built_export(client, app) -> DataExport:
    """Ask for an export from the page and run the job that builds it."""
    assert ask(client).status_code == 303
    jobs = run_jobs(app)
    assert [job.func_name for job in jobs] == ["workers.privacy.build_export"]
    (export,) = db.session.query(DataExport).all()
    assert jobs[0].args == (export.id, "http://live.test")  # ids and the site: never the token
    return export


def status_of(client, path: str) -> int:
    """The status of a GET, its body (an open file when it is the ZIP) closed."""
    response = client.get(path)
    response.close()
    return response.status_code


def link_path(export: DataExport) -> str:
    return f"/settings/privacy/exports/{export.id}/{exports.link_token(export)}"


def test_the_export_holds_all_of_alices_data_and_nothing_of_anyone_elses(mail_app, mailbox, login):
    people = populate()
    me = login("alice")
    page = page_text(me.get("/settings/privacy"))
    assert "Ask for a copy of my data" in page and "Your data" in page

    export = built_export(me, mail_app)
    assert export.state == "ready" and export.object_key.startswith("exports/")
    assert not export.object_key.startswith(PUBLIC_PREFIXES)
    assert export.expires_at - export.ready_at == timedelta(days=7)

    # The mail job (queued by the build, run by the same burst) sends the link; it opens the ZIP.
    (message,) = mailbox.to("alice@example.com")
    assert message["Subject"] == "Your data export is ready"
    link = Mailbox.link(message)
    assert link == "http://live.test" + link_path(export)
    response = me.get(link_path(export))
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    files = exports.read_archive(response.get_data())
    response.close()

    assert set(files) == {"README.txt", "profile.json", "channel.json", "settings.json", "chat_messages.json",
                          "vods.json", "follows.json", "reports_filed.json", "actions_against_you.json",
                          "appeals.json", "sessions.json", "notifications.json"}
    everything = json.dumps(files, ensure_ascii=False)
    for word in ALICE_WORDS:
        assert word in everything, word
    for word in OTHERS_WORDS:  # bob's chat line, who reported alice, which staff member acted
        assert word not in everything, word
    for secret in ("password_hash", "token_hash", "stream_key_hash", "nonce", "alices-login-token"):
        assert secret not in everything, secret

    assert files["profile.json"]["username"] == "alice" and files["profile.json"]["email"] == "alice@example.com"
    assert files["profile.json"]["profile"]["avatar_url"] == f"http://live.test/media/{people.objects[0]}"
    assert files["channel.json"]["title"] == "Alice plays jazz" and files["channel.json"]["followers"] == 1
    assert [m["text"] for m in files["chat_messages.json"]] == ["hello from alice"]
    assert files["chat_messages.json"][0]["channel"] == "bob"
    (vod,) = files["vods.json"]
    assert vod["title"] == "jazz night replay"
    assert vod["page"] == f"http://live.test/c/alice/videos/{people.vod.id}"
    assert vod["playlist_url"] == f"http://live.test/{people.vod.object_key}"  # a link, not the media
    assert [f["channel"] for f in files["follows.json"]] == ["bob"]
    # Her reports: what she wrote and her own line among the evidence, her thread with staff (no
    # staff name), the outcome; never the evidence's other lines, the reported profile or the
    # staff-only note (OTHERS_WORDS above).
    about_bob, about_carol = files["reports_filed.json"]
    assert about_bob["details"] == "bob broke rule 2" and about_bob["target_type"] == "message"
    assert about_bob["your_lines_in_the_chat_context"] == [{"text": "hello from alice", "at": "2024-05-01T20:00:00"}]
    assert [(m["from"], m["message"]) for m in about_bob["thread"]] == [
        ("you", "alice asks staff about it"), ("staff", "Thanks, we are looking into it.")]
    assert about_carol["details"] == "that profile is a scam" and about_carol["target_type"] == "user"
    assert about_carol["outcome"] == "We found no breach of the rules." and about_carol["case_state"] == "dismissed"
    assert about_carol["your_lines_in_the_chat_context"] == [] and about_carol["thread"] == []
    for report in files["reports_filed.json"]:
        assert set(report) & {"evidence", "target", "contact_email", "reporter_id", "case_id"} == set()
    (warning,) = files["actions_against_you.json"]["site_actions"]
    assert warning["kind"] == "warn" and warning["statement"] == "Please keep chat on topic."
    assert "actor_id" not in warning and "case_id" not in warning
    (appeal,) = files["appeals.json"]
    assert appeal["text"] == "I was polite" and appeal["decision"] == "The warning stands."
    agents = [s["user_agent"] for s in files["sessions.json"]]
    assert "Firefox-on-Alices-laptop" in agents and all("token_hash" not in s for s in files["sessions.json"])
    assert "chat_messages.json" in files["README.txt"] and "@alice" in files["README.txt"]

    # The page now offers the same link, for alice only.
    page = page_text(me.get("/settings/privacy"))
    assert "Download your data" in page and link_path(export) in page


@pytest.mark.parametrize("who", ["anonymous", "other member", "owner, wrong token", "owner, another's export"])
def test_the_link_opens_for_its_owner_only(app, login, who):
    populate()
    me = login("alice")
    export = built_export(me, app)
    make_user("mallory")
    path = link_path(export)
    if who == "anonymous":
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        return
    if who == "other member":
        response = login("bob").get(path)  # the right link, forwarded to bob
    elif who == "owner, wrong token":
        response = me.get(path[:-4] + "AAAA")
    else:  # mallory's own token, tried on alice's export
        mallory = login("mallory")
        assert ask(mallory).status_code == 303
        theirs = db.session.query(DataExport).filter_by(user_id=db.session.query(User).filter_by(
            username="mallory").one().id).one()
        response = mallory.get(f"/settings/privacy/exports/{export.id}/{exports.link_token(theirs)}")
    assert response.status_code == 404
    assert status_of(me, path) == 200  # and alice's own browser still opens it


def test_one_export_a_week(app, login):
    make_user("alice")
    me = login("alice")
    first = built_export(me, app)
    page = page_text(me.get("/settings/privacy"))
    assert "You can ask for one copy every 7 days" in page and "Ask for a copy of my data" not in page

    again = ask(me)  # a form kept open in another tab
    assert again.status_code == 200
    assert "You can ask for one copy of your data every 7 days" in page_text(again)
    assert db.session.query(DataExport).count() == 1
    # As a fragment (htmx), the same message in the swapped block.
    fragment = Actions(me).post("/settings/privacy/export", token_from="/settings/privacy",
                                headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and page_text(fragment).lstrip().startswith('<div id="privacy-settings"')
    assert "every 7 days" in page_text(fragment)

    first.requested_at = utcnow() - timedelta(days=7, minutes=1)
    db.session.commit()
    assert ask(me).status_code == 303
    assert db.session.query(DataExport).count() == 2


def test_a_failed_export_can_be_asked_for_again_at_once(app, login):
    make_user("alice")
    me = login("alice")
    export = built_export(me, app)
    export.state = "failed"
    db.session.commit()
    assert ask(me).status_code == 303


def test_an_expired_export_is_refused_and_deleted_by_the_retention_run(site, login):
    populate()
    me = login("alice")
    export = built_export(me, site)
    key = export.object_key
    storage = get_storage()
    assert storage.exists(key)
    assert status_of(me, link_path(export)) == 200

    assert exports.expire_exports(utcnow() + timedelta(days=6)) == 0  # not yet
    assert storage.exists(key)
    export.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    gone = me.get(link_path(export))
    assert gone.status_code == 303 and gone.headers["Location"] == "/settings/privacy"
    assert "That export has expired" in page_text(me.get("/settings/privacy"))

    from workers import retention
    summary = retention.run_retention()
    assert summary is not None and summary["exports"] == 1
    db.session.expire_all()
    assert not storage.exists(key) and db.session.get(DataExport, export.id).state == "expired"
    assert list(storage.list("exports/")) == []
    assert me.get(link_path(export)).status_code == 303


def test_the_export_is_built_on_both_storage_backends(site, login):
    populate()
    me = login("alice")
    export = built_export(me, site)
    assert get_storage().size(export.object_key) == export.size_bytes > 0
    response = me.get(link_path(export))
    files = exports.read_archive(response.get_data())
    response.close()
    assert files["channel.json"]["title"] == "Alice plays jazz"


def test_the_build_job_is_safe_to_run_twice(app, login):
    make_user("alice")
    me = login("alice")
    export = built_export(me, app)
    key = export.object_key
    assert exports.build(export.id, "http://live.test") is False  # ready: left alone
    db.session.expire_all()
    assert db.session.get(DataExport, export.id).object_key == key
    assert [obj.key for obj in get_storage().list("exports/")] == [key]


def test_the_page_and_its_fragment(app, login):
    make_user("alice")
    me = login("alice")
    page = me.get("/settings/privacy")
    assert page.status_code == 200 and "<html" in page_text(page) and "HX-Request" in page.headers["Vary"]
    fragment = me.get("/settings/privacy", headers={"HX-Request": "true"})
    text = page_text(fragment)
    assert fragment.status_code == 200 and "<html" not in text and 'id="privacy-settings"' in text
    assert "How long we keep things" in text and "7 days" in text and "30 days" in text
    # While an export is being prepared the block polls itself.
    assert ask(me).status_code == 303
    assert 'hx-trigger="every 3s"' in page_text(me.get("/settings/privacy", headers={"HX-Request": "true"}))


def test_nginx_never_serves_exports_from_storage(tmp_path):
    from app.deploy.nginx import render_nginx_conf
    from tests.deploy.test_nginx_conf import directives, location, s3_settings, settings

    assert not any("exports/".startswith(prefix) for prefix in PUBLIC_PREFIXES)
    for config in (settings(tmp_path), s3_settings(tmp_path)):
        text = render_nginx_conf(config)
        assert directives(location(text, "location /media/exports/")) == ["return 404;"]


def test_access_logs_never_show_the_links_token(app):
    from app.logs import redact

    alice = make_user("alice")
    export = exports.request_export(alice, "http://live.test")
    line = f'127.0.0.1 "GET {link_path(export)} HTTP/1.1" 200'
    assert exports.link_token(export) not in redact(line)
    assert "/settings/privacy/exports/[token]" in redact(line)
