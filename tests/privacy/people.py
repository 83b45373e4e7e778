"""A member with something of everything the export and the purge deal with, and the people around
her: bob (whose channel she chats and reports in), carol (who reported her) and boss (staff)."""
from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.follow import services as follow
from app.models import (
    VOD,
    Appeal,
    Case,
    CaseNote,
    ChatMessage,
    DonationAddress,
    LoginSession,
    Report,
    Sanction,
    StreamSession,
    User,
)
from app.models.login_session import hash_session_token
from app.storage.backends import get_storage
from tests.factories import make_user

# Words only alice's data holds, and words only the others' hold: an export or a purge is checked
# by looking for them.
ALICE_WORDS = ("Alice Wonder", "alice's own bio", "Alice plays jazz", "hello from alice", "jazz night replay",
               "bob broke rule 2", "I was polite", "Firefox-on-Alices-laptop", "bc1qalicealicealice",
               "alice asks staff about it")
# Besides bob's and carol's own rows, the evidence kept with alice's reports (bob's reported line,
# carol's line beside it, carol's profile as alice saw it) and a staff-only note: none of it is
# alice's, so none of it may reach her export.
OTHERS_WORDS = ("bob says hi to everyone", "carol's secret report", "carol", "boss", "bob's own line",
                "carol chats along", "carol's private bio", "bc1qcarolcarolcarol", "bob has a history here")
# Words of alice's that stay after her purge: what she wrote in the reports she filed on other
# people's cases, part of their case; her lines in those reports' evidence and her thread
# messages do not.
KEPT_FOR_OTHERS_CASES = {"bob broke rule 2", "that profile is a scam"}


@dataclass
class People:
    alice: User
    bob: User
    carol: User
    boss: User
    vod: VOD
    alice_line: ChatMessage
    objects: list[str]  # every stored object of alice's


def populate() -> People:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    boss = make_user("boss", admin=True)
    alice.profile.display_name = "Alice Wonder"
    alice.profile.bio = "alice's own bio"
    alice.channel.title = "Alice plays jazz"
    db.session.add(DonationAddress(user_id=alice.id, currency="BTC", address="bc1qalicealicealice"))
    db.session.add(LoginSession(user_id=alice.id, token_hash=hash_session_token("alices-login-token"),
                                user_agent="Firefox-on-Alices-laptop"))
    session = StreamSession(channel=alice.channel, internal_name="st-00000000alice001", status="ended")
    db.session.add(session)
    db.session.flush()
    prefix = f"vods/{session.id}/"
    vod = VOD(channel_id=alice.channel.id, session_id=session.id, title="jazz night replay",
              object_key=f"{prefix}master.m3u8", storage_prefix=prefix, thumbnail_key=f"{prefix}poster.jpg",
              download_key=f"{prefix}video.mp4", duration_seconds=12.5)
    alice_line = ChatMessage(channel_id=bob.channel.id, user_id=alice.id, text="hello from alice")
    db.session.add_all([
        vod, alice_line,
        ChatMessage(channel_id=alice.channel.id, user_id=bob.id, text="bob says hi to everyone"),
        ChatMessage(channel_id=bob.channel.id, user_id=bob.id, text="bob's own line"),
    ])
    db.session.flush()
    follow.follow(alice, bob.channel)
    follow.follow(bob, alice.channel)

    # alice reported bob's line; carol reported alice's; staff warned alice, who appealed.
    bob_line = db.session.query(ChatMessage).filter_by(text="bob's own line").one()
    about_bob = Case(target_type="message", target_id=bob_line.id, target_user_id=bob.id, channel_id=bob.channel.id,
                     target_label="bob's own line", reason="harassment", priority=3)
    about_alice = Case(target_type="message", target_id=alice_line.id, target_user_id=alice.id,
                       channel_id=bob.channel.id, target_label="hello from alice", reason="spam", priority=4,
                       state="actioned")
    db.session.add_all([about_bob, about_alice])
    db.session.flush()
    about_carol = Case(target_type="user", target_id=carol.id, target_user_id=carol.id, target_label="@carol",
                       reason="scam", priority=4, state="dismissed", outcome="We found no breach of the rules.")
    db.session.add(about_carol)
    db.session.flush()
    # The evidence as app.safety.reports keeps it: the chat lines around the reported one (alice's
    # own, bob's reported one, carol's), and the reported profile as alice saw it.
    context = {"lines": [
        {"id": alice_line.id, "user": "alice", "text": "hello from alice", "at": "2024-05-01T20:00:00",
         "state": "visible", "reported": False},
        {"id": bob_line.id, "user": "bob", "text": "bob's own line", "at": "2024-05-01T20:00:05",
         "state": "visible", "reported": True},
        {"id": bob_line.id + 1000, "user": "carol", "text": "carol chats along", "at": "2024-05-01T20:00:09",
         "state": "visible", "reported": False}]}
    snapshot = {"username": "carol", "display_name": "Carol C", "bio": "carol's private bio",
                "avatar_key": f"profiles/{carol.id}/avatar.jpg", "banner_key": None,
                "donation_addresses": [{"currency": "BTC", "address": "bc1qcarolcarolcarol"}]}
    alices_report = Report(case_id=about_bob.id, reporter_id=alice.id, reason="harassment",
                           details="bob broke rule 2", evidence=context)
    db.session.add_all([
        alices_report,
        Report(case_id=about_alice.id, reporter_id=carol.id, reason="spam", details="carol's secret report",
               evidence={"lines": [{**context["lines"][0], "reported": True}, context["lines"][2]]}),
        Report(case_id=about_carol.id, reporter_id=alice.id, reason="scam", details="that profile is a scam",
               evidence=snapshot),
    ])
    db.session.flush()
    # alice's thread with staff about her report on bob, and a note for staff only.
    db.session.add_all([
        CaseNote(case_id=about_bob.id, report_id=alices_report.id, author_id=alice.id, from_staff=False,
                 body="alice asks staff about it"),
        CaseNote(case_id=about_bob.id, report_id=alices_report.id, author_id=boss.id, from_staff=True,
                 body="Thanks, we are looking into it."),
        CaseNote(case_id=about_bob.id, author_id=boss.id, from_staff=True, body="bob has a history here"),
    ])
    warning = Sanction(case_id=about_alice.id, user_id=alice.id, actor_id=boss.id, kind="warn", rule="spam",
                       rule_text="No spam.", statement="Please keep chat on topic.",
                       content_type="message", content_id=alice_line.id, content_label="hello from alice")
    db.session.add(warning)
    db.session.flush()
    db.session.add(Appeal(sanction_id=warning.id, user_id=alice.id, text="I was polite", state="rejected",
                          decided_by_id=boss.id, decision="The warning stands."))
    db.session.commit()

    storage = get_storage()
    objects = [f"profiles/{alice.id}/avatar-abc.jpg", f"thumbnails/{alice.channel.id}/live.jpg",
               f"{prefix}master.m3u8", f"{prefix}720p/index.m3u8", f"{prefix}video.mp4", f"{prefix}poster.jpg",
               f"hls/{session.internal_name}/index.m3u8"]
    for key in objects:
        storage.put_bytes(key, b"alice's object " + key.encode())
    alice.profile.avatar_key = objects[0]
    alice.channel.thumbnail_key = objects[1]
    db.session.commit()
    return People(alice, bob, carol, boss, vod, alice_line, objects)


def bobs_objects(bob: User) -> list[str]:
    storage = get_storage()
    keys = [f"profiles/{bob.id}/avatar-bob.jpg", f"thumbnails/{bob.channel.id}/live.jpg"]
    for key in keys:
        storage.put_bytes(key, b"bob's object")
    return keys
