"""Legal pages: their versions, the text each version shows, and telling members of new ones.

A page that its operator has not published yet shows the default text shipped in
app/legal/defaults/ ("version 0"). Every text may use the placeholders in `placeholders`, filled
from the settings when the page is shown, so a page never goes stale when a setting changes; an
unset setting shows as a visible placeholder, never as a blank.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from markupsafe import Markup
from sqlalchemy import func, select

from ..extensions import db
from ..models import LEGAL_KINDS, LegalDocument, User, utcnow
from ..profiles.markdown import render_document

TITLES = {"terms": "Terms of Service", "privacy": "Privacy Policy", "dmca": "Copyright (DMCA) Policy"}
assert tuple(TITLES) == LEGAL_KINDS
DEFAULTS = Path(__file__).with_name("defaults")
MAX_BODY_CHARS = 100_000
MAX_SUMMARY_CHARS = 500
UNSET = "**[not yet set by this site's operator]**"
# `{name}` for each name `placeholders()` knows; any other braces stay as written.
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class LegalError(ValueError):
    """A version that cannot be published; `field` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Version:
    """One version of a page as shown: 0 is the shipped default, never published."""

    kind: str
    number: int
    body: str
    summary: str
    effective_at: datetime | None
    published_at: datetime | None

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def is_default(self) -> bool:
        return self.number == 0


def _default(kind: str) -> Version:
    return Version(kind, 0, (DEFAULTS / f"{kind}.md").read_text(encoding="utf-8"),
                   "The text this software ships with.", None, None)


def _version(row: LegalDocument) -> Version:
    return Version(row.kind, row.version, row.body, row.summary, row.effective_at, row.published_at)


def _check_kind(kind: str) -> None:
    if kind not in TITLES:
        raise LegalError("kind", f"There is no legal page called “{kind}”: {', '.join(TITLES)}.")


def current(kind: str, now: datetime | None = None) -> Version:
    """The version in effect: the newest one whose effective date has come, else the default."""
    _check_kind(kind)
    row = db.session.scalars(
        select(LegalDocument).where(LegalDocument.kind == kind, LegalDocument.effective_at <= (now or utcnow()))
        .order_by(LegalDocument.version.desc()).limit(1)).first()
    return _version(row) if row else _default(kind)


def upcoming(kind: str, now: datetime | None = None) -> Version | None:
    """The next version, published but not yet in effect (announced on the page until then)."""
    _check_kind(kind)
    row = db.session.scalars(
        select(LegalDocument).where(LegalDocument.kind == kind, LegalDocument.effective_at > (now or utcnow()))
        .order_by(LegalDocument.effective_at, LegalDocument.version).limit(1)).first()
    return _version(row) if row else None


def version(kind: str, number: int) -> Version | None:
    _check_kind(kind)
    if number == 0:
        return _default(kind)
    row = db.session.scalars(
        select(LegalDocument).where(LegalDocument.kind == kind, LegalDocument.version == number)).first()
    return _version(row) if row else None


def history(kind: str) -> list[Version]:
    """Every published version, newest first, then the default they replaced."""
    _check_kind(kind)
    rows = db.session.scalars(
        select(LegalDocument).where(LegalDocument.kind == kind).order_by(LegalDocument.version.desc()))
    return [_version(row) for row in rows] + [_default(kind)]


def publish(kind: str, body: str, effective_at: datetime, summary: str, by: User | None,
            now: datetime | None = None) -> Version:
    """Publish the next version of `kind`. It takes effect at `effective_at`, now or later: an
    earlier date would change what members agreed to after the fact."""
    _check_kind(kind)
    now = now or utcnow()
    body, summary = body.strip(), " ".join(summary.split())
    if not body:
        raise LegalError("body", "The text is empty.")
    if len(body) > MAX_BODY_CHARS:
        raise LegalError("body", f"The text is {len(body):,} characters long; the most is {MAX_BODY_CHARS:,}.")
    if not summary:
        raise LegalError("summary", "Say in a sentence what changed: members are shown it.")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise LegalError("summary", f"Keep the summary to {MAX_SUMMARY_CHARS} characters.")
    if effective_at.tzinfo is None:
        raise ValueError("effective_at must be timezone-aware")
    if effective_at < now - timedelta(minutes=1):
        raise LegalError("effective_at", "The effective date has passed: a new version takes effect now or later.")
    number = (db.session.scalar(select(func.max(LegalDocument.version)).where(LegalDocument.kind == kind)) or 0) + 1
    row = LegalDocument(kind=kind, version=number, body=body, summary=summary,
                        effective_at=max(effective_at, now), published_at=now,
                        published_by_id=by.id if by else None)
    db.session.add(row)
    db.session.commit()
    return _version(row)


# --- what a version shows ---------------------------------------------------------------------

def _days(delta: timedelta) -> str:
    days = math.ceil(delta.total_seconds() / 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def placeholders() -> dict[str, str]:
    """The values `{name}` placeholders in a text stand for, from the settings."""
    from ..auth.sessions import unused_login_lifetime
    from ..privacy import records as safety_records
    from ..privacy import settings as privacy
    from ..safety.rules import site_rules

    config = current_app.config
    vod_days = config["VOD_RETENTION_DAYS"]
    agent = [config[name] for name in ("DMCA_AGENT_NAME", "DMCA_AGENT_ADDRESS", "DMCA_AGENT_EMAIL",
                                        "DMCA_AGENT_PHONE") if config[name]]
    return {
        "site_name": config["SITE_NAME"],
        "rules": "\n".join(f"{number}. {rule}" for number, rule in enumerate(site_rules(), start=1)),
        "operator": config["LEGAL_OPERATOR"] or UNSET,
        "contact_email": config["LEGAL_CONTACT_EMAIL"] or UNSET,
        "vod_retention": (f"deleted {_days(timedelta(days=vod_days))} after the broadcast, unless the "
                          "channel's owner sets another period or deletes them sooner") if vod_days
        else "kept until the channel's owner deletes them",
        "login_retention": _days(unused_login_lifetime(current_app)),
        "export_link_lifetime": privacy.days(privacy.export_link_lifetime()),
        "export_interval": privacy.days(privacy.export_interval()),
        "erasure_grace": privacy.days(privacy.erasure_grace()),
        "analytics_raw": f"for {_days(timedelta(days=config['ANALYTICS_RAW_DAYS']))}",
        "analytics_minutes": f"for {_days(timedelta(days=config['ANALYTICS_MINUTE_DAYS']))}",
        "safety_records": privacy.days(safety_records.keep_for()),
        # Markdown line breaks (two spaces) keep the agent's details on lines of their own.
        "dmca_agent": "  \n".join(agent) if config["DMCA_AGENT_NAME"] and config["DMCA_AGENT_EMAIL"] else UNSET,
    }


def agent_is_set() -> bool:
    config = current_app.config
    return bool(config["DMCA_AGENT_NAME"] and config["DMCA_AGENT_EMAIL"])


def render(shown: Version) -> Markup:
    """The version's text as safe HTML, its placeholders filled in."""
    values = placeholders()
    return render_document(PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), shown.body))


# --- telling members ---------------------------------------------------------------------------

def unseen(user: User) -> list[Version]:
    """Versions published since the member last dismissed the notice (or signed up), newest per
    page; the notice shows them until dismissed."""
    since = user.legal_seen_at or user.created_at
    rows = db.session.scalars(
        select(LegalDocument).where(LegalDocument.published_at > since)
        .order_by(LegalDocument.kind, LegalDocument.version.desc()))
    newest: dict[str, Version] = {}
    for row in rows:
        newest.setdefault(row.kind, _version(row))
    return [newest[kind] for kind in TITLES if kind in newest]


def mark_seen(user: User, now: datetime | None = None) -> None:
    user.legal_seen_at = now or utcnow()
    db.session.commit()
