"""What the dashboard shows and saves: the live panel (session state, viewers, the encoder's own
report) and the channel's settings, recording retention among them."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from ..channels import services as channels
from ..extensions import db, get_redis
from ..models import Channel, StreamSession, utcnow
from ..vods.retention import MAX_RETENTION_DAYS, RetentionSettingError, instance_retention_days
from ..streams import services as streams
from ..streams import viewers

log = logging.getLogger(__name__)


def stats_key(session_id: int) -> str:
    return f"cascade:stream:{session_id}:stats"


@dataclass
class Rung:
    name: str
    kbps: float | None = None  # measured
    target_kbps: float | None = None


@dataclass
class EncoderStats:
    """The transcode worker's latest report; every field may be missing, so each is optional."""

    fps: float | None = None
    speed: float | None = None
    total_kbps: float | None = None
    rungs: list[Rung] = field(default_factory=list)
    dropped: int | None = None
    duplicated: int | None = None
    preset: str | None = None
    encoder: str | None = None
    restarts: int | None = None
    state: str | None = None
    note: str | None = None

    @property
    def behind(self) -> bool:
        """Encoding slower than real time: viewers will buffer."""
        return self.speed is not None and self.speed < 0.98


@dataclass
class LivePanel:
    status: str  # "live", "reconnecting" or "offline"
    session: StreamSession | None
    viewers: int
    stats: EncoderStats | None

    @property
    def polling(self) -> bool:
        return self.status != "offline"

    @property
    def uptime(self) -> str | None:
        """How long the session has run, as "1 h 05 min" or "4 min 10 s"."""
        if self.session is None or self.session.started_at is None:
            return None
        seconds = max(0, int((utcnow() - self.session.started_at).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"

    @property
    def seconds_since_left(self) -> int | None:
        if self.session is None or self.session.publisher_left_at is None:
            return None
        return max(0, int((utcnow() - self.session.publisher_left_at).total_seconds()))


def _number(value, kind=float):
    try:
        number = kind(float(value))
    except (TypeError, ValueError):
        return None
    return number if number == number and number >= 0 else None  # no NaN, no negatives


def _text(value, limit: int = 500) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split())[:limit]
    return text or None


def _rung_name(item) -> str | None:
    if isinstance(item, dict):
        name = item.get("name") or (f"{item['height']}p" if _number(item.get("height"), int) else None)
        return _text(name, 40)
    return _text(item, 40)


def parse_stats(raw: dict) -> EncoderStats:
    """Read the worker's JSON defensively: unknown shapes are skipped, never an error."""
    stats = EncoderStats(
        fps=_number(raw.get("fps")),
        speed=_number(raw.get("speed")),
        dropped=_number(raw.get("dropped", raw.get("drop_frames")), int),
        duplicated=_number(raw.get("dup_frames", raw.get("dup")), int),
        preset=_text(raw.get("preset"), 40),
        encoder=_text(raw.get("encoder"), 40),
        restarts=_number(raw.get("restarts"), int),
        state=_text(raw.get("state"), 40),
        note=_text(raw.get("note")),
    )
    ladder = raw.get("ladder") if isinstance(raw.get("ladder"), list) else []
    rungs: dict[str, Rung] = {}
    for item in ladder:
        name = _rung_name(item)
        if name:
            rung = rungs[name] = Rung(name)
            if isinstance(item, dict):
                rung.kbps = _number(item.get("kbps", item.get("bitrate")))
                rung.target_kbps = _number(item.get("target_kbps"))
    bitrate = raw.get("bitrate")
    if isinstance(bitrate, dict):
        for name, kbps in bitrate.items():
            name = _text(name, 40)
            if name:
                rungs.setdefault(name, Rung(name)).kbps = _number(kbps)
    elif isinstance(bitrate, list):
        for item in bitrate:
            name = _rung_name(item) if isinstance(item, dict) else None
            if name:
                rungs.setdefault(name, Rung(name)).kbps = _number(item.get("kbps", item.get("bitrate")))
    else:
        stats.total_kbps = _number(bitrate)
    stats.rungs = list(rungs.values())
    if stats.total_kbps is None and any(r.kbps is not None for r in stats.rungs):
        stats.total_kbps = sum(r.kbps or 0 for r in stats.rungs)
    return stats


def encoder_stats(session: StreamSession) -> EncoderStats | None:
    """The worker's latest report for this session, or None when there is none (or it expired)."""
    try:
        raw = get_redis().get(stats_key(session.id))
    except RedisError:
        log.warning("session %s: Redis did not answer for encoder stats", session.id)
        return None
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return parse_stats(data) if isinstance(data, dict) else None


def live_panel(channel: Channel) -> LivePanel:
    session = streams.open_session_for(channel)
    if session is None:
        return LivePanel("offline", None, 0, None)
    status = "live" if session.status == "live" else "reconnecting"
    try:
        count = viewers.count(channel.id) if status == "live" else 0
    except RedisError:
        count = 0
    return LivePanel(status, session, count, encoder_stats(session))


RETENTION_HELP = ("Enter a whole number of days from 0 to {max}: 0 keeps recordings forever, "
                  "or leave it blank for the site default.")


def site_retention_days() -> int:
    """The site's default days to keep recordings, as the dashboard explains it. A setting the
    retention job cannot use means it deletes nothing, which is keeping them: 0."""
    try:
        return instance_retention_days()
    except RetentionSettingError:
        log.error("VOD_RETENTION_DAYS is not a usable number of days; recordings are kept")
        return 0


def parse_retention_days(raw) -> int | None:
    """A channel's retention from the form: None (blank: the site default), 0 (forever) or 1-3650."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    # ASCII digits only: str.isdigit() would let "²" or Arabic-Indic digits through to int().
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_RETENTION_DAYS:
        raise channels.ChannelError("vod_retention_days", RETENTION_HELP.format(max=MAX_RETENTION_DAYS))
    return int(text)


def update_channel_info(channel: Channel, title: str, category_id: int | None, tags_raw: str, *,
                        mature: bool | None = None, record: bool | None = None,
                        latency_mode: str | None = None, vod_retention_days=None) -> None:
    """The dashboard's Stream info form: channels.update_info plus how long recordings are kept,
    all saved together or, on any error, nothing (ChannelError names the field)."""
    days = parse_retention_days(vod_retention_days)
    channel.vod_retention_days = days
    try:
        channels.update_info(channel, title, category_id, tags_raw, mature=mature, record=record,
                             latency_mode=latency_mode)
    except channels.ChannelError:
        db.session.rollback()  # update_info checks before it changes anything; undo our field
        raise
