"""Deleting an account: the one place that decides what goes with it, and when.

The owner asks with their password (`request_erasure`): the account is hidden at once, as a
disabled one is (its pages 404, it drops out of the directory, search and follow lists), every
login ends, and it waits ERASURE_GRACE_DAYS. Signing in during that grace offers to cancel
(`cancel_erasure`). After it, the hourly retention run (`erase_due`) purges everything
personal (`delete_account`):

- from the database, what the schema's ON DELETE rules would take with the user row: profile,
  channel (with its sessions, VODs, chat settings and followers), logins, follows,
  notifications, Top 8 slots, donation links, moderator roles, bans, data exports and every chat
  line the user wrote, in any channel, as Mastodon removes a deleted account's posts. Rows that
  only mention the user (the mod log's actor and target, reports they filed, actions and
  appeals) keep their history with the reference set to NULL ("a deleted account"), and the
  trust-and-safety records lose the member's own words (`_scrub_records`);
- from storage: pictures, channel thumbnails, recordings with all their objects, live HLS left
  behind, data exports;
- from Redis: the chat pacing, send nonces, staff sockets and rate-limit counters of the user.

The user row itself stays as a husk with nothing but the username (and its lookalike keys,
app.auth.names), so the name stays reserved: nobody can sign up as the deleted member. Content
under an open trust-and-safety case against the member (an open Case on it, or an action with a
pending appeal) stays for staff, with the references that tie it to the case; the hourly run
purges it too once the case is closed, and only then marks the account `erased_at`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import Table, delete, select, update
from sqlalchemy.engine import Connection

from ..extensions import db, get_redis
from ..models import VOD, Appeal, Case, CaseNote, Channel, ChatMessage, DmcaNotice, Report, StreamSession, User, utcnow
from ..models.safety import OPEN_STATES
from ..privacy.settings import erasure_grace
from . import sessions
from .services import AccountError, check_current_password

log = logging.getLogger(__name__)

# What the husk of an erased account keeps in the columns that cannot be empty.
ERASED_EMAIL = "erased-{}@erased.invalid"
ERASED_PASSWORD = "!erased"  # no hash: no password ever matches it
# What stands for the member's name and words where a record about someone else quoted them (chat
# lines in a report's evidence, their messages in a thread with staff).
DELETED_ACCOUNT = "[deleted account]"


# --- the owner's request, and changing their mind ------------------------------------------------

def request_erasure(user: User, password: str, now: datetime | None = None) -> datetime:
    """The owner's own "delete my account": only with their password (AccountError otherwise;
    wrong ones count like failed logins, see check_current_password). Hides the account, ends its
    logins and returns when it will be purged."""
    from .. import mail
    from ..streams import services as streams  # a live channel first goes off air

    check_current_password(user, password, "current_password")
    channel = user.channel
    if channel is not None and streams.open_session_for(channel) is not None:
        streams.drop_publisher(channel)
    user.erase_after = (now or utcnow()) + erasure_grace()
    user.erased_at = None
    user.disabled = True
    db.session.execute(sessions.ending_all(user))
    db.session.commit()
    mail.queue("send_erasure_scheduled", user.id, mail.site_url())
    log.info("account %s asked to be deleted; purge after %s", user.id, user.erase_after)
    return user.erase_after


def cancel_erasure(user: User) -> None:
    """Keep the account after all (its owner signed in during the grace): it shows again, unless
    staff suspended or terminated it meanwhile, which stays as staff left it."""
    if not user.erasure_pending:
        raise AccountError("login", "This account is not waiting to be deleted.")
    user.erase_after = None
    user.disabled = _held_by_staff(user)
    db.session.commit()
    log.info("account %s: deletion cancelled", user.id)


def mail_erasure_scheduled(user_id: int, base: str) -> bool:
    """(Worker) Tell the owner when their account will be purged and how to keep it."""
    from .. import mail
    from ..privacy.settings import days

    user = db.session.get(User, user_id)
    if user is None or not user.erasure_pending or user.erase_after is None:
        return False
    message = mail.compose(user.email, "Your account will be deleted", "erasure_scheduled", base=base,
                           user=user, erase_after=user.erase_after, grace=days(erasure_grace()),
                           link=mail.external_url(base, "auth.login"))
    return mail.send(message)


def _held_by_staff(user: User) -> bool:
    """Whether a suspension or termination (app.safety) keeps the account disabled."""
    from ..models import Sanction

    if user.suspended_until is not None and user.suspended_until > utcnow():
        return True
    return db.session.scalar(select(Sanction.id).where(
        Sanction.user_id == user.id, Sanction.kind.in_(("account_suspend", "terminate")),
        Sanction.reversed_at.is_(None), Sanction.lifted_at.is_(None),
        (Sanction.expires_at.is_(None)) | (Sanction.expires_at > utcnow())).limit(1)) is not None


# --- the purge -----------------------------------------------------------------------------------

def due_erasures(now: datetime | None = None) -> list[int]:
    """Ids of the accounts whose grace is over and that still hold something to purge."""
    return list(db.session.scalars(select(User.id).where(
        User.erase_after.is_not(None), User.erase_after <= (now or utcnow()), User.erased_at.is_(None))
        .order_by(User.erase_after)))


def erase_due(now: datetime | None = None) -> dict[str, int]:
    """(Hourly) Purge every account whose grace is over. One that fails is logged and tried
    again next hour; the others go ahead."""
    done = held = failed = 0
    for user_id in due_erasures(now):
        user = db.session.get(User, user_id)
        if user is None:
            continue
        try:
            if delete_account(user):
                done += 1
            else:
                held += 1
        except Exception:  # one account's failure must not stop the others' purge (logged)
            db.session.rollback()
            log.exception("could not purge account %s; trying again next run", user_id)
            failed += 1
    return {"erased": done, "erasure_held": held, "erasure_failed": failed}


@dataclass
class Held:
    """What stays for staff: rows (by table, by id) under an open case or a pending appeal."""

    rows: dict[str, set[int]] = field(default_factory=dict)

    def add(self, table: str, row_id: int | None) -> None:
        if row_id is not None:
            self.rows.setdefault(table, set()).add(int(row_id))

    def ids(self, table: str) -> set[int]:
        return self.rows.get(table, set())

    def __bool__(self) -> bool:
        return any(self.rows.values())


def held_for_staff(user_id: int) -> Held:
    """The member's content under an open case (Case in OPEN_STATES whose target_user_id is
    theirs) or under an action with a pending appeal, with those cases, actions and appeals."""
    from ..models import Sanction

    held = Held()
    targets: list[tuple[str | None, int | None]] = []
    for case in db.session.scalars(select(Case).where(Case.target_user_id == user_id,
                                                      Case.state.in_(OPEN_STATES))):
        held.add("cases", case.id)
        targets.append((case.target_type, case.target_id))
    for sanction, appeal in db.session.execute(
            select(Sanction, Appeal).join(Appeal, Appeal.sanction_id == Sanction.id)
            .where(Sanction.user_id == user_id, Appeal.state == "pending")).tuples():
        held.add("sanctions", sanction.id)
        held.add("appeals", appeal.id)
        held.add("cases", sanction.case_id)
        targets.append((sanction.content_type, sanction.content_id))
    # A counter-notice whose restore is pending: the sworn statement and the counter-notifier's
    # name, address and phone are what the restore rests on (17 U.S.C. §512(g)), and the claimant
    # may still answer it with a lawsuit; they stay until the notice closes, then go.
    for notice_id in db.session.scalars(select(DmcaNotice.id).where(DmcaNotice.uploader_id == user_id,
                                                                    DmcaNotice.state == "counter_noticed")):
        held.add("dmca_notices", notice_id)
    for kind, target_id in targets:
        if kind == "message":
            message = db.session.get(ChatMessage, target_id) if target_id is not None else None
            if message is not None:
                held.add("chat_messages", message.id)
                if db.session.scalar(select(Channel.owner_id).where(Channel.id == message.channel_id)) == user_id:
                    held.add("channels", message.channel_id)  # a line in their own channel keeps it
        elif kind == "vod":
            vod = db.session.get(VOD, target_id) if target_id is not None else None
            if vod is not None:
                held.add("vods", vod.id)
                held.add("channels", vod.channel_id)
        elif kind == "channel":
            held.add("channels", target_id)
        elif kind == "user":
            held.add("profiles", user_id)
    return held


def delete_account(user: User, now: datetime | None = None) -> bool:
    """Purge everything personal of `user` now (see the module's docstring), keeping the username
    reserved and what staff need for an open case. True when nothing was held back (the account
    is marked erased); False when something stays for staff and a later run must finish."""
    from ..storage.backends import get_storage
    from ..streams import services as streams
    from . import names

    user_id = user.id
    channel = user.channel
    if channel is not None and streams.open_session_for(channel) is not None:
        streams.drop_publisher(channel)
    db.session.commit()  # nothing of this request's stays pending, or locks SQLite's writer
    held = held_for_staff(user_id)
    shown = _lines_on_screen(user_id, held.ids("chat_messages"))

    # Objects first: if storage fails, the rows stay and the next run finds them again.
    storage = get_storage()
    for prefix in _object_prefixes(user, held):
        storage.delete_prefix(prefix)

    _scrub_records(user_id, held)
    _delete_rows(user_id, held)
    db.session.expire_all()
    user = db.session.get(User, user_id)  # type: ignore[assignment]  # the husk is still there
    _empty_husk(user)
    if user.erase_after is None:
        user.erase_after = now or utcnow()
    names.remember_names(user)  # the username's keys come back: the name stays taken
    if not held:
        user.erased_at = now or utcnow()
    db.session.commit()
    _forget_in_redis(user_id)
    _take_off_screen(shown)
    log.info("account %s purged%s", user_id, "" if not held else " (content under an open case kept)")
    return not held


# The columns the husk of an erased account keeps as they were; every other one is emptied, so a
# column added to users later is erased too without a change here.
HUSK_KEEPS = ("id", "username", "username_lower", "created_at", "erase_after", "erased_at")


def _empty_husk(user: User) -> None:
    for column in User.__table__.columns:
        if column.key in HUSK_KEEPS:
            continue
        if column.nullable:
            setattr(user, column.key, None)
        elif column.default is not None and column.default.is_scalar:
            setattr(user, column.key, column.default.arg)
    user.email = ERASED_EMAIL.format(user.id)
    user.password_hash = ERASED_PASSWORD
    user.disabled = True


def _scrub_records(user_id: int, held: Held) -> None:
    """Trust-and-safety records stay (they are the site's history, and the audit log's), but
    without the member's own words: the label of the content a closed case was about, the
    evidence kept of it, an action's content label, the text of a decided appeal. Reports the
    member filed keep their text, part of the other person's case; their name goes with the link.
    Their chat lines quoted in other reports' evidence and their messages to staff become
    DELETED_ACCOUNT; their DMCA counter-notices lose the counter-notifier's details (one whose
    restore is pending is held, see held_for_staff)."""
    from ..models import Sanction

    for case in db.session.scalars(select(Case).where(Case.target_user_id == user_id,
                                                      Case.id.not_in(held.ids("cases")))):
        case.target_label = f"a deleted account's {case.target_type}"
        for report in case.reports:
            report.evidence = {}
    for sanction in db.session.scalars(select(Sanction).where(Sanction.user_id == user_id,
                                                              Sanction.id.not_in(held.ids("sanctions")))):
        sanction.content_label = ""
    for appeal in db.session.scalars(select(Appeal).where(Appeal.user_id == user_id,
                                                          Appeal.id.not_in(held.ids("appeals")))):
        appeal.text = ""
    _scrub_evidence_lines(user_id, held)
    # Their messages in reporter↔staff threads (staff's own notes are the site's records and
    # only lose the author, with the reference).
    for note in db.session.scalars(select(CaseNote).where(CaseNote.author_id == user_id,
                                                          CaseNote.from_staff.is_(False),
                                                          CaseNote.case_id.not_in(held.ids("cases")))):
        note.body = DELETED_ACCOUNT
    for notice in db.session.scalars(select(DmcaNotice).where(DmcaNotice.uploader_id == user_id,
                                                              DmcaNotice.id.not_in(held.ids("dmca_notices")))):
        notice.counter_name = notice.counter_address = notice.counter_phone = None
        notice.counter_statement = None
        notice.material_label = "a deleted account's recording"
    db.session.commit()


def _scrub_evidence_lines(user_id: int, held: Held) -> None:
    """The member's chat lines copied into the evidence of reports on other people's lines: their
    name and text become DELETED_ACCOUNT, the others' lines stay as staff saw them. Evidence of a
    case held for staff (about the member, still open) stays whole."""
    username = db.session.scalar(select(User.username).where(User.id == user_id))
    own = set(db.session.scalars(select(ChatMessage.id).where(ChatMessage.user_id == user_id)))
    # Only message reports carry lines; a JSON column is not searchable alike on both databases,
    # so the reports are read (each report holds at most 41 lines).
    for report in db.session.scalars(select(Report).join(Case, Report.case_id == Case.id).where(
            Case.target_type == "message", Case.id.not_in(held.ids("cases")))):
        lines = (report.evidence or {}).get("lines")
        if not isinstance(lines, list):
            continue
        changed = False
        scrubbed = []
        for line in lines:
            if isinstance(line, dict) and (line.get("id") in own or line.get("user") == username):
                line = {**line, "user": DELETED_ACCOUNT, "text": DELETED_ACCOUNT}
                changed = True
            scrubbed.append(line)
        if changed:
            report.evidence = {**report.evidence, "lines": scrubbed}  # a new value: JSON is not mutable-tracked


def _object_prefixes(user: User, held: Held) -> list[str]:
    """Every storage folder holding the user's objects that nothing held still needs."""
    from ..privacy.exports import EXPORT_PREFIX

    prefixes = [f"{EXPORT_PREFIX}{user.id}/"]
    if user.id not in held.ids("profiles"):
        prefixes.append(f"profiles/{user.id}/")
    channel = db.session.scalar(select(Channel).where(Channel.owner_id == user.id))
    if channel is None:
        return prefixes
    channel_held = channel.id in held.ids("channels")
    if not channel_held:
        prefixes.append(f"thumbnails/{channel.id}/")
        prefixes.extend(f"hls/{name}/" for name in db.session.scalars(
            select(StreamSession.internal_name).where(StreamSession.channel_id == channel.id)))
    for vod in db.session.scalars(select(VOD).where(VOD.channel_id == channel.id)):
        if vod.id not in held.ids("vods") and vod.storage_prefix:
            prefixes.append(vod.storage_prefix)
    return prefixes


def _delete_rows(user_id: int, held: Held) -> None:
    """Delete or unlink every row that refers to the user, as the schema's ON DELETE rules would
    for a deleted user row, except the rows `held` for staff. The rules are read from the schema,
    so a table added later is purged too without a change here.

    PostgreSQL always applies nested rules (a channel's sessions and VODs). SQLite does only on a
    connection with foreign keys switched on, which ours are not by default (a switch it ignores
    inside a transaction): so this runs on a connection of its own, switched on before its
    transaction and off again after."""
    users = User.__table__
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        try:
            held_channels = held.ids("channels")
            if held_channels:
                # A held channel stays, but its recordings that nothing holds go.
                connection.execute(delete(VOD).where(
                    VOD.channel_id.in_(held_channels), VOD.id.not_in(held.ids("vods"))))
            for table in db.metadata.sorted_tables:
                for foreign_key in table.foreign_keys:
                    if foreign_key.column.table is users and table is not users:
                        _unlink(connection, table, foreign_key.parent, user_id, held)
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")


def _unlink(connection: Connection, table: Table, column, user_id: int, held: Held) -> None:
    where = [column == user_id]
    keys = list(table.primary_key.columns)
    kept = held.ids(table.name)
    if kept and len(keys) == 1:
        where.append(keys[0].not_in(kept))
    rule = (next(iter(column.foreign_keys)).ondelete or "").upper()
    if rule == "CASCADE" or (rule != "SET NULL" and not column.nullable):
        connection.execute(delete(table).where(*where))
    else:
        connection.execute(update(table).where(*where).values({column.name: None}))


def redis_patterns(user_id: int) -> list[str]:
    """The Redis keys (SCAN patterns) that hold something of the user's: chat pacing and send
    nonces (app.chat.limits), staff sockets (app.chat.services), rate-limit counters of their
    account (app.auth.limits, the settings pages)."""
    from ..chat.limits import PREFIX as CHAT

    uid = int(user_id)
    return [f"{CHAT}:slow:*:{uid}", f"{CHAT}:recent:*:{uid}", f"{CHAT}:sent:{uid}:*",
            f"{CHAT}:staff-sockets:*:{uid}", f"{CHAT}:bucket:*:{uid}",
            f"*/password-check/{uid}/*", f"*/login-account:{uid}/*", f"*/verify-mail:{uid}/*"]


def _forget_in_redis(user_id: int) -> int:
    try:
        redis = get_redis()
        keys = {key for pattern in redis_patterns(user_id) for key in redis.scan_iter(match=pattern, count=500)}
        if keys:
            redis.delete(*keys)
        return len(keys)
    except RedisError as error:  # counters expire by themselves; the rest is tried next purge
        log.warning("could not clear Redis keys of account %s: %s", user_id, type(error).__name__)
        return 0


def _lines_on_screen(user_id: int, keep: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    """(channel id, message id) of the user's chat lines that open chats may be showing: those of
    the last day, as a moderator's purge takes them (app.moderation.services.purge_messages)."""
    since = utcnow() - timedelta(days=1)
    return [line for line in db.session.execute(
        select(ChatMessage.channel_id, ChatMessage.id).where(
            ChatMessage.user_id == user_id, ChatMessage.state.in_(("visible", "held")),
            ChatMessage.created_at >= since)).tuples() if line[1] not in keep]


def _take_off_screen(lines: list[tuple[int, int]]) -> None:
    """Tell open chats that these lines are gone (the same event a moderator's delete sends)."""
    from ..chat import services as chat

    for channel_id, message_id in lines:
        chat.emit("delete", {"id": message_id}, to=chat.room(channel_id))
