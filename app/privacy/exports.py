"""A member's copy of their data: asked for from Settings → Your data, built into a ZIP by an RQ job
(workers/privacy.py), kept as a private object under `exports/` and reachable by its owner only,
through an expiring link; the hourly retention run deletes it when the link expires.

What the ZIP holds is decided here, in `archive_files`: the member's own rows and nothing of
anyone else's (other people's chat lines, who reported the member, which staff member acted).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import os
import re
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import or_, select

from .. import mail
from ..extensions import db
from ..jobs import enqueue, queue_name
from ..models import (
    VOD,
    Appeal,
    CaseNote,
    Channel,
    ChannelRole,
    ChatBan,
    ChatMessage,
    ChatSettings,
    DataExport,
    DonationAddress,
    Follow,
    LoginSession,
    ModerationAction,
    Notification,
    Report,
    Sanction,
    User,
    utcnow,
)
from ..storage.backends import BadKey, ObjectMissing, get_storage
from .settings import days, export_interval, export_link_lifetime

log = logging.getLogger(__name__)

# Never one of app.storage.backends.PUBLIC_PREFIXES: nginx refuses /media/exports/ and the
# bucket policy leaves it private, so the app's download route is the only way in.
EXPORT_PREFIX = "exports/"
# Columns that never leave the database, whatever table they are added to: stream key hashes,
# login token hashes, SRT passphrases, password hashes, the export links' nonces...
SECRET_COLUMN = re.compile(r"(hash|secret|token|passphrase|password|nonce)", re.IGNORECASE)
# An object under exports/ that no export refers to (a build killed between upload and commit)
# is deleted once it is this old.
ORPHAN_AFTER = timedelta(hours=6)


class ExportRefused(ValueError):
    """An export the member may not have now; `message` says why and when."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ExportGone(LookupError):
    """The owner's own link, but the export expired (or failed): ask for a new one."""


# --- asking for one ------------------------------------------------------------------------------

def latest(user: User) -> DataExport | None:
    return db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)
                              .order_by(DataExport.requested_at.desc(), DataExport.id.desc()).limit(1)).first()


def next_allowed_at(user: User) -> datetime | None:
    """When the member may ask for their next export; None when they may now. A failed export
    does not count: the member may ask again at once."""
    last = db.session.scalars(
        select(DataExport).where(DataExport.user_id == user.id, DataExport.state != "failed")
        .order_by(DataExport.requested_at.desc()).limit(1)).first()
    if last is None:
        return None
    allowed = last.requested_at + export_interval()
    return allowed if allowed > utcnow() else None


def export_job_id(export_id: int) -> str:
    """One job per export (named after the queue too: ids repeat between sites sharing Redis)."""
    return f"export-{queue_name()}-{int(export_id)}"


def request_export(user: User, site_url: str) -> DataExport:
    """Queue a new export of `user`'s data, unless they had one within the interval."""
    if (allowed := next_allowed_at(user)) is not None:
        raise ExportRefused(f"You can ask for one copy of your data every {days(export_interval())}. "
                            f"You can ask for the next one on {allowed:%B %-d, %Y at %H:%M} UTC.")
    export = DataExport(user_id=user.id, nonce=secrets.token_hex(32))
    db.session.add(export)
    db.session.commit()
    try:
        enqueue("workers.privacy.build_export", export.id, site_url, job_id=export_job_id(export.id),
                job_timeout="30m", retry=Retry(max=2, interval=[30, 300]))
    except RedisError as error:
        log.error("could not queue data export %s: %s", export.id, type(error).__name__)
        export.state = "failed"
        db.session.commit()
        raise ExportRefused("We couldn't start your export just now. Please try again in a few minutes.") from None
    return export


# --- the link ------------------------------------------------------------------------------------

def link_token(export: DataExport) -> str:
    """The token in the export's link: an HMAC of its random nonce under the secret key, so the
    owner's page and the mail can show the link while the database holds nothing that opens it."""
    digest = hmac.new(str(current_app.secret_key).encode(), f"data-export:{export.id}:{export.nonce}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def downloadable(export_id: int, token: str, user: User) -> DataExport | None:
    """The export `token` opens for `user`: None when it is not theirs or the token is wrong
    (the same answer either way); ExportGone when it is theirs but no longer ready."""
    export = db.session.get(DataExport, export_id)
    # The token is compared whatever the owner, in constant time.
    if export is None or not hmac.compare_digest(link_token(export), token or "") or export.user_id != user.id:
        return None
    if not export.is_ready or export.expires_at is None or export.expires_at <= utcnow() or not export.object_key:
        raise ExportGone(export_id)
    return export


def download_name(export: DataExport) -> str:
    when = export.ready_at or export.requested_at
    return f"{current_app.config['SITE_NAME']}-data-{when:%Y-%m-%d}.zip".replace(" ", "-")


def open_archive(export: DataExport):
    """The ZIP as a binary file object; ExportGone when its object is missing."""
    try:
        return get_storage().open(export.object_key or "")
    except (ObjectMissing, BadKey):
        raise ExportGone(export.id) from None


def object_key(export: DataExport) -> str:
    # A random part too: the key is not guessable from the ids even where the store is listed.
    return f"{EXPORT_PREFIX}{export.user_id}/{export.id}-{secrets.token_hex(8)}.zip"


# --- building it (the RQ job) --------------------------------------------------------------------

def build(export_id: int, site_url: str) -> bool:
    """(Worker) Build export `export_id`'s ZIP, store it and mail its owner. Safe to run twice:
    a ready export is left alone; a half-built one is built again. False when there is nothing
    to build (the export or its owner is gone, or it expired)."""
    export = db.session.get(DataExport, export_id)
    if export is None or export.state in ("ready", "expired"):
        return False
    user = db.session.get(User, export.user_id)
    if user is None or user.erased_at is not None:
        return False
    export.state = "building"
    db.session.commit()
    storage = get_storage()
    key = object_key(export)
    try:
        with tempfile.TemporaryDirectory(prefix="cascade-export-") as workdir:
            path = os.path.join(workdir, "export.zip")
            write_archive(path, archive_files(user, site_url))
            storage.put_file(key, path, content_type="application/zip")
            size = os.path.getsize(path)
    except Exception:
        db.session.rollback()
        export.state = "failed"
        db.session.commit()
        raise
    if export.object_key and export.object_key != key:
        storage.delete(export.object_key)  # left by an earlier try that died before its commit
    now = utcnow()
    export.object_key, export.size_bytes = key, size
    export.state, export.ready_at, export.expires_at = "ready", now, now + export_link_lifetime()
    db.session.commit()
    log.info("data export %s of user %s ready (%d bytes)", export.id, user.id, size)
    mail.queue("send_export_ready", export.id, site_url)
    return True


def mail_ready(export_id: int, base: str) -> bool:
    """(Worker) Tell the owner their export is ready, with its link. True when a mail went out."""
    export = db.session.get(DataExport, export_id)
    if export is None or not export.is_ready or export.expires_at is None:
        return False
    user = db.session.get(User, export.user_id)
    if user is None or user.erased_at is not None:
        return False
    link = mail.external_url(base, "settings.download_export", export_id=export.id, token=link_token(export))
    message = mail.compose(user.email, "Your data export is ready", "export_ready", base=base, user=user,
                           link=link, expires_at=export.expires_at, lifetime=days(export_link_lifetime()))
    return mail.send(message)


def write_archive(path: str, files: dict[str, Any]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            data = content if isinstance(content, str) else json.dumps(content, indent=2, ensure_ascii=False,
                                                                        default=_plain)
            archive.writestr(name, data)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _row(row: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's columns, without secrets and without the columns named in `leave_out`."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns
            if column.key not in leave_out and not SECRET_COLUMN.search(column.key)}


@dataclass(frozen=True)
class _Links:
    base: str

    def to(self, endpoint: str, **values) -> str:
        return mail.external_url(self.base, endpoint, **values)

    def media(self, key: str | None) -> str | None:
        return f"{self.base}{get_storage().url(key)}" if key else None

    def vod_object(self, key: str | None) -> str | None:
        return f"{self.base}/{key.lstrip('/')}" if key else None


def archive_files(user: User, site_url: str) -> dict[str, Any]:
    """The files of `user`'s export, by name: JSON-ready values, and README.txt."""
    links = _Links(site_url.rstrip("/"))
    uid = user.id
    channel = user.channel

    profile = user.profile
    account = _row(user, leave_out=("username_lower",))
    account["profile"] = None if profile is None else {
        **_row(profile, leave_out=("user_id",)),
        "avatar_url": links.media(profile.avatar_key), "banner_url": links.media(profile.banner_key),
        "background_url": links.media(profile.background_key),
        "top_friends": [slot.friend.username for slot in profile.top_friends],
        "page": links.to("profiles.show", username=user.username),
    }
    account["donation_addresses"] = [_row(row, leave_out=("user_id",)) for row in db.session.scalars(
        select(DonationAddress).where(DonationAddress.user_id == uid).order_by(DonationAddress.position))]

    channel_file: dict[str, Any] | None = None
    settings_file: dict[str, Any] = {"gpc_opt_out_at": user.gpc_opt_out_at}
    vods: list[dict[str, Any]] = []
    if channel is not None:
        channel_file = {**_row(channel, leave_out=("owner_id",)),
                        "page": links.to("channels.show", slug=channel.slug),
                        "thumbnail_url": links.media(channel.custom_thumbnail_key or channel.thumbnail_key),
                        "followers": db.session.scalar(select(db.func.count()).select_from(Follow)
                                                       .where(Follow.channel_id == channel.id))}
        chat = db.session.get(ChatSettings, channel.id)
        settings_file["chat"] = None if chat is None else _row(chat, leave_out=("channel_id",))
        settings_file["moderators"] = [
            {"username": role.user.username if role.user else None, "role": role.role, "since": role.created_at}
            for role in db.session.scalars(select(ChannelRole).where(ChannelRole.channel_id == channel.id))]
        for vod in db.session.scalars(select(VOD).where(VOD.channel_id == channel.id).order_by(VOD.id)):
            vods.append({**_row(vod, leave_out=("channel_id",)),
                         "page": links.to("vods.watch", slug=channel.slug, vod_id=vod.id),
                         "playlist_url": links.vod_object(vod.object_key),
                         "download_url": links.to("vods.download", slug=channel.slug, vod_id=vod.id)
                         if vod.download_key else None,
                         "thumbnail_url": links.vod_object(vod.thumbnail_key)})
    settings_file["roles_held"] = [
        {"channel": _slug(role.channel_id), "role": role.role, "since": role.created_at}
        for role in db.session.scalars(select(ChannelRole).where(ChannelRole.user_id == uid))]

    messages = [{**_row(message, leave_out=("user_id", "deleted_by_id")),
                 "channel": _slug(message.channel_id)}
                for message in db.session.scalars(select(ChatMessage).where(ChatMessage.user_id == uid)
                                                  .order_by(ChatMessage.id))]
    follows = [{"channel": _slug(row.channel_id), "since": row.created_at}
               for row in db.session.scalars(select(Follow).where(Follow.follower_id == uid)
                                             .order_by(Follow.created_at))]
    reports = [_report(row, user) for row in db.session.scalars(
        select(Report).where(Report.reporter_id == uid).order_by(Report.id))]
    actions = [_sanction(row) for row in db.session.scalars(
        select(Sanction).where(Sanction.user_id == uid).order_by(Sanction.id))]
    channel_actions = [
        {**_row(row, leave_out=("actor_id", "target_user_id", "message_id")),
         "channel": _slug(row.channel_id)}
        for row in db.session.scalars(select(ModerationAction).where(ModerationAction.target_user_id == uid)
                                      .order_by(ModerationAction.id))]
    channel_bans = [{**_row(row, leave_out=("user_id", "created_by_id")), "channel": _slug(row.channel_id)}
                    for row in db.session.scalars(select(ChatBan).where(ChatBan.user_id == uid))]
    appeals = [{**_row(row, leave_out=("user_id", "decided_by_id"))} for row in db.session.scalars(
        select(Appeal).where(or_(Appeal.user_id == uid,
                                 Appeal.sanction_id.in_(select(Sanction.id).where(Sanction.user_id == uid))))
        .order_by(Appeal.id))]
    sessions = [_row(row, leave_out=("user_id",)) for row in db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == uid).order_by(LoginSession.created_at))]
    notifications = [{**_row(row, leave_out=("user_id",)), "channel": _slug(row.channel_id)}
                     for row in db.session.scalars(select(Notification).where(Notification.user_id == uid)
                                                   .order_by(Notification.id))]
    exported_at = utcnow()
    return {
        "README.txt": _readme(user, exported_at),
        "profile.json": account,
        "channel.json": channel_file,
        "settings.json": settings_file,
        "chat_messages.json": messages,
        "vods.json": vods,
        "follows.json": follows,
        "reports_filed.json": reports,
        "actions_against_you.json": {"site_actions": actions, "channel_actions": channel_actions,
                                     "channel_bans": channel_bans},
        "appeals.json": appeals,
        "sessions.json": sessions,
        "notifications.json": notifications,
    }


def _slug(channel_id: int | None) -> str | None:
    if channel_id is None:
        return None
    channel = db.session.get(Channel, channel_id)
    return channel.slug if channel else None


# The columns of a report that are the reporter's own: what they chose and wrote, and when. The
# rest is left out: `evidence` is a copy of other people's chat lines or of the reported person's
# profile, and the case's label is the reported content, both someone else's data (GDPR art.
# 15(4): a copy must not give away other people's); `contact_email` is only a signed-out notice's.
REPORT_OWN_COLUMNS = ("id", "reason", "details", "good_faith", "range_start", "range_end", "created_at")


def _report(report: Report, user: User) -> dict[str, Any]:
    """A report the member filed: what they wrote, their own lines among the chat context kept
    with it, the thread with staff (never a staff member's name) and the outcome as reporters
    are told it. Nothing of the reported person or of anyone else in the chat."""
    case = report.case
    lines = (report.evidence or {}).get("lines") or []
    return {**{key: getattr(report, key) for key in REPORT_OWN_COLUMNS},
            "target_type": case.target_type if case else None,
            "your_lines_in_the_chat_context": [
                {"text": line.get("text"), "at": line.get("at")} for line in lines
                if isinstance(line, dict) and line.get("user") == user.username],
            "thread": [{"from": "staff" if note.from_staff else "you", "message": note.body,
                        "at": note.created_at}
                       for note in db.session.scalars(select(CaseNote).where(CaseNote.report_id == report.id)
                                                      .order_by(CaseNote.id))],
            "case_state": case.state if case else None,
            "outcome": case.outcome if case else None}


def _sanction(sanction: Sanction) -> dict[str, Any]:
    """An action against the member, with its statement of reasons; not who took it, and nothing
    of the case's reports (whoever reported the member stays unknown to them)."""
    return _row(sanction, leave_out=("user_id", "actor_id", "reversed_by_id", "case_id"))


def _readme(user: User, exported_at: datetime) -> str:
    site = current_app.config["SITE_NAME"]
    return f"""Your data from {site}
{'=' * (len(site) + 15)}

Account: @{user.username}
Exported: {exported_at:%Y-%m-%d %H:%M} UTC

Each file is JSON (UTF-8); times are in UTC (ISO 8601).

  profile.json             your account, profile, Top 8 and donation addresses
  channel.json             your channel (its stream key is never exported)
  settings.json            chat settings, your channel's moderators, channel roles you hold,
                           and the Global Privacy Control opt-out we recorded for you
  chat_messages.json       every chat message you wrote, in any channel
  vods.json                your recordings: their details and links to them (not the video
                           files: download those from each recording's page while it exists)
  follows.json             the channels you follow
  reports_filed.json       the reports you sent us, your messages with our staff about them,
                           and what came of them (not the other people's lines or profile
                           we kept with a report: those are theirs)
  actions_against_you.json actions staff or channel moderators took about your account, with
                           their statements of reasons
  appeals.json             your appeals and their decisions
  sessions.json            the browsers you are logged in on (never the login secrets)
  notifications.json       the notifications we sent you

Links to pictures, recordings and pages work while those exist and, for private ones, only
when you are logged in. The download link of this file expires; ask for a new copy in
Settings → Your data.
"""


# --- expiry (the hourly retention run) -----------------------------------------------------------

def expire_exports(now: datetime | None = None) -> int:
    """Delete the objects of exports whose link has expired (marking them expired), and objects
    under exports/ that no export refers to any more. Returns the number of objects deleted."""
    now = now or utcnow()
    storage = get_storage()
    deleted = 0
    for export in db.session.scalars(select(DataExport).where(DataExport.state == "ready",
                                                              DataExport.expires_at <= now)):
        if export.object_key:
            storage.delete(export.object_key)
            deleted += 1
        export.state, export.object_key = "expired", None
        db.session.commit()
    known = set(db.session.scalars(select(DataExport.object_key).where(DataExport.object_key.is_not(None))))
    for obj in list(storage.list(EXPORT_PREFIX)):
        if obj.key not in known and obj.modified <= now - ORPHAN_AFTER:
            storage.delete(obj.key)
            deleted += 1
    db.session.rollback()
    return deleted


def delete_exports_of(user_id: int) -> int:
    """Every export object of the user (their erasure); the rows go with the user's."""
    return get_storage().delete_prefix(f"{EXPORT_PREFIX}{int(user_id)}/")


def read_archive(data: bytes) -> dict[str, Any]:
    """An export's files by name, JSON parsed (for tests and `flask` checks)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() if name.endswith(".txt") else json.loads(archive.read(name))
                for name in archive.namelist()}
