"""The DMCA workflow: a valid takedown notice disables the video and strikes its uploader, who
can send a counter-notice; the video comes back 10 business days later unless the claimant
reports a lawsuit; a claimant may retract, which restores the video and removes the strike.
Repeat infringers (REPEAT_INFRINGER_STRIKES active copyright strikes) are terminated. Every step
is in the audit log and mailed to whoever it concerns.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from .. import mail
from ..extensions import db
from ..models import VOD, DmcaNotice, Sanction, User, utcnow
from . import actions, audit, dmca, rules
from .errors import SafetyError

REPEAT_INFRINGER_STRIKES = 3
_VIDEO_PATH = re.compile(r"^/c/([a-z0-9_]+)/videos/(\d+)/?$", re.IGNORECASE)
_CLAIMANT = "dmca-claimant"


class CopyrightError(SafetyError):
    """A refusal of this module's (app.safety.errors)."""


def _clean(data: dict, field: str, limit: int) -> str:
    return str(data.get(field) or "").strip()[:limit]


def video_at(url: str) -> VOD | None:
    """The video a notice's address names (this site's /c/<channel>/videos/<id>; any host)."""
    match = _VIDEO_PATH.match(urlsplit(url.strip()).path or "")
    if match is None:
        return None
    vod = db.session.get(VOD, int(match.group(2))) if int(match.group(2)) < 2**31 else None
    return vod if vod is not None and vod.channel.slug == match.group(1).lower() else None


def claimant_token(notice: DmcaNotice) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_CLAIMANT).dumps(notice.id)


def notice_for_claimant(notice_id: int, token: str) -> DmcaNotice | None:
    try:
        signed = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_CLAIMANT).loads(token)
    except BadSignature:
        return None
    return db.session.get(DmcaNotice, notice_id) if signed == notice_id else None


def copyright_strikes(user: User) -> int:
    return db.session.scalar(select(func.count(Sanction.id)).where(
        Sanction.user_id == user.id, Sanction.kind == "strike", Sanction.rule == rules.COPYRIGHT.key,
        Sanction.reversed_at.is_(None))) or 0


def file_takedown(data: dict) -> DmcaNotice:
    """A takedown notice from the form: refused, naming the missing elements, unless complete."""
    if absent := dmca.missing(dmca.TAKEDOWN_ELEMENTS, data):
        raise CopyrightError(dmca.refusal(absent))
    vod = video_at(str(data["material_url"]))
    if vod is None:
        raise CopyrightError("There is no video at that address on this site. Give the address of its page, "
                             "like https://this-site/c/channel/videos/12.")
    if vod.disabled_at is not None:
        raise CopyrightError("That video is disabled already, after an earlier notice.", 409)
    uploader = vod.channel.owner
    notice = DmcaNotice(
        vod_id=vod.id, uploader_id=uploader.id,
        material_label=f"video {vod.id} “{vod.display_title()}” on {vod.channel.slug}"[:300],
        material_url=_clean(data, "material_url", 500), work=_clean(data, "work", 4000),
        claimant_name=_clean(data, "signature", 200), claimant_address=_clean(data, "address", 1000),
        claimant_phone=_clean(data, "phone", 64), claimant_email=_clean(data, "email", 254))
    db.session.add(notice)
    vod.disabled_at = utcnow()
    db.session.flush()
    statement = (f"{notice.claimant_name} sent a copyright (DMCA) notice claiming that this video infringes "
                 f"their work: {notice.work}. The video is disabled and counts as a copyright strike. If it "
                 "was taken down by mistake or misidentification, send a counter-notice by the link in the "
                 "e-mail about this notice, or from the video's page; it comes back 10 business days later "
                 "unless the claimant goes to court.")
    done = actions.act(None, uploader, "strike", rules.COPYRIGHT.key, statement, days=None)
    strike = done[0]
    strike.content_type, strike.content_id, strike.content_label = "vod", vod.id, notice.material_label
    strike.automated = True
    notice.strike_id = strike.id
    if copyright_strikes(uploader) >= REPEAT_INFRINGER_STRIKES and not uploader.is_admin:
        done += actions.act(None, uploader, "terminate", rules.COPYRIGHT.key,
                            f"This account received {copyright_strikes(uploader)} copyright strikes that "
                            "were not retracted or countered: under our repeat-infringer policy it is "
                            "terminated.")
        done[-1].automated = True
    audit.record(None, "dmca.notice", target_type="vod", target_id=vod.id, target_name=notice.material_label,
                 detail=f"notice {notice.id} from {notice.claimant_name} <{notice.claimant_email}>")
    db.session.commit()
    for sanction in done:
        actions.notify(sanction)
    mail.queue("send_dmca_mail", notice.id, "receipt", mail.site_url())
    return notice


def notice_for_uploader(notice_id: int, user: User) -> DmcaNotice | None:
    notice = db.session.get(DmcaNotice, notice_id)
    return notice if notice is not None and notice.uploader_id == user.id else None


def uploader_of(notice: DmcaNotice) -> User | None:
    """Whoever the notice was against: by the mailed link they may be signed out, suspended or
    terminated, and still counter-notice (§512(g) gives every subscriber that right)."""
    return db.session.get(User, notice.uploader_id) if notice.uploader_id is not None else None


def counter_notice(notice_id: int, user: User, data: dict) -> DmcaNotice:
    """The uploader's counter-notice: complete, it schedules the restore and goes to the claimant."""
    notice = notice_for_uploader(notice_id, user)
    if notice is None:
        raise CopyrightError("There is no such notice.", 404)
    if notice.state != "disabled":
        raise CopyrightError("This notice can't be countered any more.", 409)
    if absent := dmca.missing(dmca.COUNTER_ELEMENTS, data):
        raise CopyrightError(dmca.refusal(absent))
    now = utcnow()
    notice.counter_name = _clean(data, "name", 200)
    notice.counter_address = _clean(data, "address", 1000)
    notice.counter_phone = _clean(data, "phone", 64)
    signed, material = _clean(data, "signature", 200), _clean(data, "material", 2000)
    notice.counter_statement = (f"Signed: {signed}. Material: {material}. "
                                "Sworn under penalty of perjury that it was disabled by mistake or "
                                "misidentification; consents to the jurisdiction of the Federal District Court "
                                "and to accept service of process from the claimant.")
    notice.counter_received_at = now
    notice.restore_at = dmca.restore_window(now)[0]
    notice.state = "counter_noticed"
    audit.record(user, "dmca.counter_notice", target_type="vod", target_id=notice.vod_id,
                 target_name=notice.material_label,
                 detail=f"notice {notice.id}; restore at {notice.restore_at:%Y-%m-%d}")
    db.session.commit()
    mail.queue("send_dmca_mail", notice.id, "counter", mail.site_url())
    return notice


def reopen(notice: DmcaNotice, actor) -> None:
    """Put the video back and take the strike away (a no-op for a strike already reversed, as by
    an upheld appeal; the caller commits)."""
    vod = db.session.get(VOD, notice.vod_id) if notice.vod_id else None
    if vod is not None:
        vod.disabled_at = None
    strike = db.session.get(Sanction, notice.strike_id) if notice.strike_id else None
    if strike is not None:
        actions.reverse(strike, actor)
    notice.closed_at, notice.restore_at = utcnow(), None


def retract(notice: DmcaNotice) -> None:
    """The claimant withdraws the notice: the video is back and the strike removed."""
    if notice.state not in ("disabled", "counter_noticed"):
        raise CopyrightError("This notice is closed already.", 409)
    reopen(notice, None)
    notice.state = "retracted"
    audit.record(None, "dmca.retracted", target_type="vod", target_id=notice.vod_id,
                 target_name=notice.material_label, detail=f"notice {notice.id}, by the claimant")
    db.session.commit()
    mail.queue("send_dmca_mail", notice.id, "retracted", mail.site_url())


def report_lawsuit(notice: DmcaNotice) -> None:
    """The claimant filed an action seeking a court order (§512(g)(2)(C)): no restore."""
    if notice.state != "counter_noticed":
        raise CopyrightError("A lawsuit can be reported only while a counter-notice's restore is pending.", 409)
    notice.state, notice.restore_at = "lawsuit", None
    audit.record(None, "dmca.lawsuit", target_type="vod", target_id=notice.vod_id,
                 target_name=notice.material_label, detail=f"notice {notice.id}: restore cancelled")
    db.session.commit()
    mail.queue("send_dmca_mail", notice.id, "lawsuit", mail.site_url())


def restore_due(now=None) -> int:
    """Restore the videos whose counter-notice's time has come (the hourly retention job)."""
    now = now or utcnow()
    due = list(db.session.scalars(select(DmcaNotice).where(
        DmcaNotice.state == "counter_noticed", DmcaNotice.restore_at <= now)))
    for notice in due:
        reopen(notice, None)
        notice.state = "restored"
        audit.record(None, "dmca.restored", target_type="vod", target_id=notice.vod_id,
                     target_name=notice.material_label, detail=f"notice {notice.id}: no lawsuit reported in time")
    db.session.commit()
    for notice in due:
        mail.queue("send_dmca_mail", notice.id, "restored", mail.site_url())
    return len(due)


def notices_for_uploader(user: User) -> list[DmcaNotice]:
    return list(db.session.scalars(select(DmcaNotice).where(DmcaNotice.uploader_id == user.id)
                                   .order_by(DmcaNotice.id.desc())))


def all_notices(limit: int = 200) -> list[DmcaNotice]:
    return list(db.session.scalars(select(DmcaNotice).order_by(DmcaNotice.id.desc()).limit(limit)))


def notice_for_strike(sanction: Sanction) -> DmcaNotice | None:
    return db.session.scalars(select(DmcaNotice).where(DmcaNotice.strike_id == sanction.id)).first()


def notice_for_vod(vod: VOD) -> DmcaNotice | None:
    return db.session.scalars(select(DmcaNotice).where(DmcaNotice.vod_id == vod.id)
                              .order_by(DmcaNotice.id.desc())).first()


def claimant_link(notice: DmcaNotice, base: str) -> str:
    return mail.external_url(base, "safety.dmca_claimant", notice_id=notice.id, token=claimant_token(notice))


def page_for(notice: DmcaNotice) -> str:
    return url_for("safety.dmca_counter", notice_id=notice.id)
