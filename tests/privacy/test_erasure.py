"""Erasure: a password-confirmed request hides the account for a cancellable grace; signing in then
offers to keep it; after the grace the hourly run purges everything personal from the database,
Redis and storage (on both storage backends), the username stays reserved, and what an open
trust-and-safety case needs stays for staff until it is decided."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from app.auth import deletion, limits
from app.chat import limits as chat_limits
from app.chat import services as chat_services
from app.extensions import db, get_redis
from app.models import VOD, Appeal, Case, CaseNote, ChatMessage, DmcaNotice, Report, Sanction, User, utcnow
from app.models.user import NameKey
from app.privacy import exports
from app.safety import takedown
from app.storage.backends import get_storage
from tests.conftest import Actions, page_text
from tests.factories import PASSWORD, make_user
from tests.privacy.people import ALICE_WORDS, KEPT_FOR_OTHERS_CASES, bobs_objects, populate

# The purge switches SQLite's foreign keys on for its cascades and reads the schema's rules.
pytestmark = pytest.mark.both_databases

GRACE = timedelta(days=30)
# alice's words that stay after the purge: the text of the reports she filed on other people's cases.
KEPT_FOR_BOBS_CASE = KEPT_FOR_OTHERS_CASES


def ask_to_delete(client, password=PASSWORD):
    return Actions(client).post("/settings/account/delete", {"current_password": password},
                                token_from="/settings/account")


def database_text() -> str:
    """Every row of every table (search indexes too), as text."""
    with db.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        return "\n".join(repr(row) for name in names if name != "alembic_version"
                         for row in connection.execute(text(f'SELECT * FROM "{name}"')))


def redis_text() -> str:
    """Every key in this test's Redis database, with its value."""
    redis = get_redis()
    out = []
    readers = {"string": redis.get, "list": lambda key: redis.lrange(key, 0, -1), "hash": redis.hgetall,
               "set": redis.smembers, "zset": lambda key: redis.zrange(key, 0, -1)}
    for key in redis.scan_iter(count=1000):
        read = readers.get(redis.type(key).decode())
        out.append(f"{key!r} {read(key) if read else b''!r}")
    return "\n".join(out)


def fill_redis(user: User, channel_id: int) -> None:
    """What a member leaves in Redis: chat pacing, a send nonce, a staff socket, rate-limit counts."""
    redis = get_redis()
    chat_limits.take_slow_mode(redis, channel_id, user.id, 600)
    chat_limits.remember_text(redis, channel_id, user.id, f"recent line of {user.username}", ttl=600)
    chat_limits.claim_send(redis, user.id, f"nonce-of-{user.username}")
    chat_limits.take_token(redis, f"{channel_id}:{user.id}", 5, 0.5)
    chat_services.remember_staff_socket(channel_id, user.id, f"sid-of-{user.username}")
    limits.count_wrong_password(user)


def redis_keys_of(user_id: int) -> list[bytes]:
    redis = get_redis()
    return [key for pattern in deletion.redis_patterns(user_id) for key in redis.scan_iter(match=pattern)]


def test_erasure_waits_out_the_grace_then_purges_everything_personal(site, login):
    people = populate()
    alice, bob = people.alice, people.bob
    kept_objects = bobs_objects(bob)
    export = exports.request_export(alice, "http://live.test")
    assert exports.build(export.id, "http://live.test")
    export_key = export.object_key
    fill_redis(alice, bob.channel.id)
    fill_redis(bob, alice.channel.id)
    failed = Actions(site.test_client()).login("alice", "not her password")  # a login-account count
    assert failed.status_code == 200
    assert redis_keys_of(alice.id) and redis_keys_of(bob.id)
    alice_id, alice_channel = alice.id, alice.channel.id

    me = login("alice")
    response = ask_to_delete(me)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "log in before then to keep it" in page_text(me.get("/"))

    # The grace: hidden like a disabled account, nothing purged yet.
    visitor = site.test_client()
    assert visitor.get("/u/alice").status_code == 404 and visitor.get("/c/alice").status_code == 404
    assert me.get("/settings/account").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, alice_id).erase_after > utcnow() + GRACE - timedelta(minutes=1)
    assert deletion.erase_due(utcnow() + GRACE - timedelta(hours=1)) == {
        "erased": 0, "erasure_held": 0, "erasure_failed": 0}
    assert "Alice plays jazz" in database_text() and get_storage().exists(people.objects[0])

    # After it, the hourly retention run purges her.
    assert deletion.erase_due(utcnow() + GRACE + timedelta(minutes=1)) == {
        "erased": 1, "erasure_held": 0, "erasure_failed": 0}

    # Database: no row refers to her but the husk and its name keys; none of her words anywhere.
    db.session.expire_all()
    husk = db.session.get(User, alice_id)
    assert husk.username == "alice" and husk.disabled and husk.erased_at is not None
    assert husk.email == f"erased-{alice_id}@erased.invalid" and husk.password_hash == deletion.ERASED_PASSWORD
    assert husk.last_login_at is None and husk.channel is None and husk.profile is None
    for column in User.__table__.columns:  # every other column emptied, those added later too
        if column.key not in deletion.HUSK_KEEPS + ("email", "password_hash", "disabled"):
            value = getattr(husk, column.key)
            assert value is None or value == column.default.arg, (column.key, value)
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for foreign_key in table.foreign_keys:
                if foreign_key.column.table.name == "users" and table.name != "name_keys":
                    referring = connection.execute(select(table).where(foreign_key.parent == alice_id)).all()
                    assert referring == [], (table.name, foreign_key.parent.name)
    assert db.session.scalar(select(VOD).where(VOD.channel_id == alice_channel)) is None
    everything = database_text()
    for word in set(ALICE_WORDS) - KEPT_FOR_BOBS_CASE:
        assert word not in everything, word
    assert "alice@example.com" not in everything and "I was polite" not in everything
    assert "bob says hi to everyone" not in everything  # lines in her channel went with it
    assert "bob@example.com" in everything  # nobody else's data went

    # The evidence of her report on bob's (still open) case: her line stands as a deleted account's,
    # bob's and carol's lines stay as staff saw them; in the thread her message is gone, staff's stays.
    (report,) = db.session.scalars(select(Report).join(Case).where(Case.target_user_id == bob.id))
    assert report.reporter_id is None and report.details == "bob broke rule 2"
    assert [(line["user"], line["text"]) for line in report.evidence["lines"]] == [
        (deletion.DELETED_ACCOUNT, deletion.DELETED_ACCOUNT), ("bob", "bob's own line"),
        ("carol", "carol chats along")]
    thread = list(db.session.scalars(select(CaseNote).where(CaseNote.report_id == report.id).order_by(CaseNote.id)))
    assert [note.body for note in thread] == [deletion.DELETED_ACCOUNT, "Thanks, we are looking into it."]
    assert all(note.author_id is None for note in thread[:1])

    # Storage: every object of hers is gone (pictures, thumbnails, the recording, live HLS, the export).
    storage = get_storage()
    left = {obj.key for obj in storage.list()}
    assert not left & set(people.objects + [export_key])
    assert set(kept_objects) <= left

    # Redis: nothing of hers; bob's keys stay.
    assert redis_keys_of(alice_id) == []
    in_redis = redis_text()
    assert "recent line of alice" not in in_redis and "nonce-of-alice" not in in_redis
    assert "sid-of-alice" not in in_redis
    assert "recent line of bob" in in_redis and redis_keys_of(bob.id)

    # The username stays taken, lookalikes too; her password logs nobody in.
    for name in ("alice", "ALICE", "a1ice"):  # the last a lookalike (1 for l)
        signup = Actions(site.test_client()).signup(name, email=f"new-{len(name)}@example.com")
        assert signup.status_code == 200, name
        assert "taken" in page_text(signup) or "looks too much like @alice" in page_text(signup), name
    assert db.session.scalar(select(NameKey.user_id).where(NameKey.user_id == alice_id).limit(1)) == alice_id
    refused = Actions(site.test_client()).login("alice", PASSWORD)
    assert refused.status_code == 200 and "Keep my account" not in page_text(refused)

    # A second run finds nothing to do.
    assert deletion.erase_due(utcnow() + GRACE * 2)["erased"] == 0


def test_signing_in_during_the_grace_offers_to_keep_the_account(app, login):
    make_user("alice")
    assert ask_to_delete(login("alice")).status_code == 303
    browser = app.test_client()
    offered = Actions(browser).login("alice", PASSWORD)
    page = page_text(offered)
    assert offered.status_code == 200 and "Your account is waiting to be deleted" in page
    assert "Keep my account (cancel deletion)" in page
    assert browser.get("/settings/account").status_code == 302  # not logged in by that alone

    kept = Actions(browser).post("/login/keep-account", token_from="/login")
    assert kept.status_code == 303 and kept.headers["Location"] == "/settings/privacy"
    assert "Your account will not be deleted" in page_text(browser.get("/settings/privacy"))
    assert app.test_client().get("/u/alice").status_code == 200
    db.session.expire_all()
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    assert alice.erase_after is None and not alice.disabled
    assert deletion.erase_due(utcnow() + GRACE * 2)["erased"] == 0
    assert db.session.get(User, alice.id).email == "alice@example.com"


def test_keeping_needs_the_password_just_typed(app):
    make_user("alice")
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    deletion.request_erasure(alice, PASSWORD)
    # No right password in this browser: the button does nothing.
    stranger = app.test_client()
    response = Actions(stranger).post("/login/keep-account", token_from="/login")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    # A wrong password shows no offer at all.
    wrong = Actions(app.test_client()).login("alice", "not the password")
    assert wrong.status_code == 200 and "Keep my account" not in page_text(wrong)
    db.session.expire_all()
    assert db.session.get(User, alice.id).erasure_pending


def test_a_wrong_password_schedules_nothing(app, login):
    make_user("alice")
    me = login("alice")
    response = ask_to_delete(me, "not my password")
    assert response.status_code == 200 and "That isn't your current password." in page_text(response)
    db.session.expire_all()
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    assert alice.erase_after is None and not alice.disabled


def test_content_under_an_open_case_stays_for_staff_until_it_is_decided(site, login):
    people = populate()
    alice, bob, boss = people.alice, people.bob, people.boss
    vod_id, vod_prefix, line_id = people.vod.id, people.vod.storage_prefix, people.alice_line.id
    # An open case on her chat line, and an action on her recording whose appeal is pending.
    case = db.session.scalar(select(Case).where(Case.target_id == line_id, Case.target_type == "message"))
    case.state = "open"
    removal = Sanction(user_id=alice.id, actor_id=boss.id, kind="remove", rule="copyright", rule_text="No piracy.",
                       statement="Removed for copyright.", content_type="vod", content_id=vod_id,
                       content_label="jazz night replay")
    db.session.add(removal)
    db.session.flush()
    appeal = Appeal(sanction_id=removal.id, user_id=alice.id, text="It is my own music")
    db.session.add(appeal)
    db.session.commit()
    case_id, removal_id, appeal_id = case.id, removal.id, appeal.id
    assert ask_to_delete(login("alice")).status_code == 303

    assert deletion.erase_due(utcnow() + GRACE + timedelta(minutes=1)) == {
        "erased": 0, "erasure_held": 1, "erasure_failed": 0}
    db.session.expire_all()
    storage = get_storage()
    # Kept: the reported line, the appealed recording with its objects (and so its channel), the
    # case, the action and the appeal, still tied to her; gone: everything else.
    assert db.session.get(ChatMessage, line_id) is not None
    assert db.session.get(VOD, vod_id) is not None and storage.exists(f"{vod_prefix}video.mp4")
    assert db.session.get(Case, case_id).target_user_id == alice.id
    assert db.session.get(Sanction, removal_id).user_id == alice.id
    assert db.session.get(Appeal, appeal_id).text == "It is my own music"
    husk = db.session.get(User, alice.id)
    assert husk.erased_at is None and husk.profile is None and husk.email.endswith("@erased.invalid")
    assert not storage.exists(people.objects[0])  # her avatar went
    assert app_page_status(site, "/u/alice") == 404

    # Staff decide: the case is dismissed, the appeal rejected. The next run finishes the purge.
    db.session.get(Case, case_id).state = "dismissed"
    db.session.get(Appeal, appeal_id).state = "rejected"
    db.session.commit()
    assert deletion.erase_due(utcnow() + GRACE + timedelta(hours=1))["erased"] == 1
    db.session.expire_all()
    assert db.session.get(ChatMessage, line_id) is None and db.session.get(VOD, vod_id) is None
    assert not any(True for _ in storage.list(vod_prefix))
    assert db.session.get(Appeal, appeal_id).text == "" and db.session.get(Sanction, removal_id).user_id is None
    assert db.session.get(User, alice.id).erased_at is not None
    assert db.session.get(User, bob.id).email == "bob@example.com"


def app_page_status(app, path: str) -> int:
    return app.test_client().get(path).status_code


def test_the_grace_and_the_cancel_are_in_the_account_page_and_the_privacy_policy(app, login):
    make_user("alice")
    policy = page_text(app.test_client().get("/legal/privacy"))
    assert "purged 30 days later" in " ".join(policy.split())
    assert "for 7 days" in " ".join(policy.split())  # the export link
    custom = app.test_client()
    app.config["ERASURE_GRACE_DAYS"] = 14
    app.config["DATA_EXPORT_LINK_DAYS"] = 3
    words = " ".join(page_text(custom.get("/legal/privacy")).split())
    assert "purged 14 days later" in words and "for 3 days" in words
    assert "After 14 days we delete" in " ".join(page_text(login("alice").get("/settings/account")).split())


def counter_noticed(alice: User, vod: VOD, state: str) -> DmcaNotice:
    """A takedown of alice's recording that she answered with a counter-notice (her real name,
    home address and phone, as §512(g)(3) asks)."""
    notice = DmcaNotice(vod_id=vod.id, uploader_id=alice.id, material_label="jazz night replay",
                        material_url=f"http://live.test/c/alice/videos/{vod.id}", work="A Love Supreme",
                        claimant_name="Label Records", claimant_address="1 Label Road", claimant_phone="555 0199",
                        claimant_email="legal@label.example", state=state,
                        counter_name="Alice Realname", counter_address="12 Alice Street, Springfield",
                        counter_phone="+1 555 0100", counter_statement="Signed: Alice Realname. Material: my set.",
                        counter_received_at=utcnow() - timedelta(days=40),
                        restore_at=utcnow() - timedelta(hours=1) if state == "counter_noticed" else None,
                        closed_at=utcnow() - timedelta(days=30) if state == "restored" else None)
    db.session.add(notice)
    db.session.commit()
    return notice


COUNTER_WORDS = ("Alice Realname", "12 Alice Street", "+1 555 0100", "my set")


def test_a_counter_notice_keeps_its_details_while_the_restore_is_pending_and_loses_them_after(app, login):
    people = populate()
    alice = people.alice
    closed = counter_noticed(alice, people.vod, "restored")
    pending = counter_noticed(alice, people.vod, "counter_noticed")
    closed_id, pending_id, alice_id = closed.id, pending.id, alice.id
    assert ask_to_delete(login("alice")).status_code == 303
    later = utcnow() + GRACE + timedelta(minutes=1)

    # The notice still waiting for its restore keeps what the law rests the restore on (the sworn
    # counter-notice and who made it), tied to her; the closed one loses all of hers at once.
    assert deletion.erase_due(later) == {"erased": 0, "erasure_held": 1, "erasure_failed": 0}
    db.session.expire_all()
    done, waiting = db.session.get(DmcaNotice, closed_id), db.session.get(DmcaNotice, pending_id)
    assert (done.counter_name, done.counter_address, done.counter_phone, done.counter_statement) == (None,) * 4
    assert done.uploader_id is None and done.material_label == "a deleted account's recording"
    assert done.claimant_email == "legal@label.example"  # the claimant's record is not hers to erase
    assert waiting.uploader_id == alice_id and waiting.counter_name == "Alice Realname"
    assert db.session.get(User, alice_id).profile is None  # the rest of her account went

    # The restore's time comes (the hourly run); the next purge takes the rest.
    assert takedown.restore_due() == 1
    assert deletion.erase_due(later + timedelta(hours=1))["erased"] == 1
    db.session.expire_all()
    waiting = db.session.get(DmcaNotice, pending_id)
    assert waiting.state == "restored" and waiting.uploader_id is None and waiting.counter_phone is None
    everything = database_text()
    for word in COUNTER_WORDS:
        assert word not in everything, word
    assert redis_keys_of(alice_id) == []
