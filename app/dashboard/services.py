"""What the dashboard shows and saves: the live panel (session state, what the live runtime gave
the stream, viewers, the encoder's own report, Stop's cool-down) and the channel's settings,
recording retention among them."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app

from ..analytics.reports import last_broadcast
from ..api.status import stream_state
from ..channels import services as channels
from ..chat import services as chat
from ..extensions import db, optional_redis
from ..live import hosts
from ..live.capacity import MODE_LADDER, MODE_PASSTHROUGH, MODE_REDUCED
from ..live.state import RECONNECT_GRACE, LiveKeys
from ..models import Channel, StreamSession, utcnow
from ..streams import services as streams
from ..streams import viewers
from ..vods.retention import MAX_RETENTION_DAYS, RetentionSettingError, instance_retention_days

log = logging.getLogger(__name__)

# A live host normally takes a new session within a second or two; after this long without one
# the creator is told that none is running or none has room, rather than left watching "Starting…".
HOST_WAIT = timedelta(seconds=10)

MODE_LABELS = {
    MODE_LADDER: "Full quality ladder",
    MODE_REDUCED: "Smaller ladder",
    MODE_PASSTHROUGH: "Source passthrough",
}


class _Picture:
    """How a picture's size and rate read on the panel ("1280×720", "30 fps"), as much as is known."""

    width: int | None
    height: int | None
    fps: float | None

    @property
    def resolution(self) -> str | None:
        return f"{self.width}×{self.height}" if self.width and self.height else None

    @property
    def frame_rate(self) -> str | None:
        return frame_rate(self.fps)


@dataclass
class RenditionFigures(_Picture):
    """One quality viewers can pick, as the dashboard shows it: what the live host planned and what
    the encoder measures (the plan itself is app.media.ladder.Rung)."""

    name: str
    kbps: float | None = None  # measured
    target_kbps: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    passthrough: bool = False


def frame_rate(fps: float | None) -> str | None:
    """A frame rate as people write it: "30 fps", "29.97 fps", "59.94 fps"."""
    if not fps:
        return None
    return f"{fps:.2f}".rstrip("0").rstrip(".") + " fps"


# Drops or duplicates in more than this share of the frames over the live host's window (a few
# seconds) are a real problem worth a warning; below it they are rounding (a publisher's timestamps
# are whole milliseconds) and a clean source reads none at all.
FRAME_PROBLEM_SHARE = 0.01


@dataclass
class InputStats(_Picture):
    """What the publisher sends, measured on the live host's pull over its own timeline."""

    fps: float | None = None
    kbps: float | None = None
    video_kbps: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class EncoderStats:
    """The live host's latest report on a session; every field may be missing, so each is optional."""

    input: InputStats = field(default_factory=InputStats)
    speed: float | None = None
    rungs: list[RenditionFigures] = field(default_factory=list)
    # Per rendition over the last `window` seconds, against the `frames` made meanwhile.
    dropped: float | None = None
    duplicated: float | None = None
    frames: int | None = None
    window: float | None = None
    preset: str | None = None
    encoder: str | None = None
    restarts: int | None = None
    state: str | None = None
    note: str | None = None
    mode: str | None = None

    @property
    def behind(self) -> bool:
        """Encoding slower than real time: viewers will buffer."""
        return self.speed is not None and self.speed < 0.98

    def _share(self, count: float | None) -> float | None:
        if count is None or not self.frames:
            return None
        return count / self.frames

    @property
    def dropped_share(self) -> float | None:
        return self._share(self.dropped)

    @property
    def duplicated_share(self) -> float | None:
        return self._share(self.duplicated)

    @property
    def dropping(self) -> bool:
        return (self.dropped_share or 0) > FRAME_PROBLEM_SHARE

    @property
    def duplicating(self) -> bool:
        return (self.duplicated_share or 0) > FRAME_PROBLEM_SHARE


@dataclass
class LivePanel:
    # "starting" (a publisher is connected, viewers cannot play it yet), "live", "reconnecting",
    # "offline" or "stopped" (offline, and Stop's cool-down refuses publishes).
    status: str
    session: StreamSession | None
    viewers: int | None  # None while Redis is away
    stats: EncoderStats | None
    rungs: list[RenditionFigures] = field(default_factory=list)
    mode: str | None = None
    # Starting for HOST_WAIT and still no live host has taken the session; then how many hosts
    # are running (None when Redis cannot say).
    waiting_for_host: bool = False
    hosts_running: int | None = None
    stopped_until: datetime | None = None
    stop_cooldown: str | None = None  # how long Stop refuses publishes, in words; None when it doesn't

    @property
    def polling(self) -> bool:
        return self.status not in ("offline", "stopped")

    @property
    def mode_label(self) -> str | None:
        return MODE_LABELS.get(self.mode) if self.mode else None

    @property
    def mode_reason(self) -> str | None:
        return (self.session.mode_reason or None) if self.session is not None else None

    @property
    def reconnect_grace(self) -> int:
        return int(RECONNECT_GRACE.total_seconds())

    @property
    def stopped_until_shown(self) -> str | None:
        """The end of Stop's cool-down as "17:06" (UTC), rounded up: a publish at the minute shown
        is never refused."""
        if self.stopped_until is None:
            return None
        rounded = self.stopped_until.replace(second=0, microsecond=0)
        if rounded < self.stopped_until:
            rounded += timedelta(minutes=1)
        return rounded.strftime("%H:%M")

    @property
    def stopped_for(self) -> str | None:
        """How much longer Stop refuses publishes, as "4 minutes"."""
        if self.stopped_until is None:
            return None
        return duration_words((self.stopped_until - utcnow()).total_seconds())

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


def duration_words(seconds: float) -> str:
    """A short wait in words: "45 seconds", "1 minute", "5 minutes" (whole minutes rounded up)."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _rung_name(item) -> str | None:
    if isinstance(item, dict):
        name = item.get("name") or (f"{item['height']}p" if _number(item.get("height"), int) else None)
        return _text(name, 40)
    return _text(item, 40)


def parse_stats(raw: dict) -> EncoderStats:
    """Read the live host's JSON (workers.live.stats.encoder_stats) defensively: unknown shapes are
    skipped, never an error. ffmpeg's own `fps` (frames per wall second since its run began, far
    above the stream's rate while it catches up) and its counters since the start are not shown."""
    given = raw.get("input")
    given = given if isinstance(given, dict) else {}
    recent = raw.get("frames_recent")
    recent = recent if isinstance(recent, dict) else {}
    stats = EncoderStats(
        input=InputStats(fps=_number(given.get("fps")), kbps=_number(given.get("kbps")),
                         video_kbps=_number(given.get("video_kbps")),
                         width=_number(given.get("width"), int) or None,
                         height=_number(given.get("height"), int) or None),
        speed=_number(raw.get("speed")),
        dropped=_number(recent.get("dropped")),
        duplicated=_number(recent.get("duplicated")),
        frames=_number(recent.get("frames"), int),
        window=_number(recent.get("seconds")),
        preset=_text(raw.get("preset"), 40),
        encoder=_text(raw.get("encoder"), 40),
        restarts=_number(raw.get("restarts"), int),
        state=_text(raw.get("state"), 40),
        note=_text(raw.get("note")),
        mode=_text(raw.get("mode"), 16),
    )
    ladder = raw.get("ladder")
    ladder = ladder if isinstance(ladder, list) else []
    rungs: dict[str, RenditionFigures] = {}
    for item in ladder:
        name = _rung_name(item)
        if name and name not in rungs:
            rung = rungs[name] = RenditionFigures(name)
            if isinstance(item, dict):
                rung.kbps = _number(item.get("kbps"))
                rung.target_kbps = _number(item.get("target_kbps"))
                _fill_size(rung, item)
    stats.rungs = list(rungs.values())
    return stats


def _fill_size(rung: RenditionFigures, item: dict) -> None:
    rung.width = rung.width or _number(item.get("width"), int) or None
    rung.height = rung.height or _number(item.get("height"), int) or None
    rung.fps = rung.fps or _number(item.get("fps")) or None
    rung.passthrough = rung.passthrough or item.get("passthrough") is True


def session_rungs(session: StreamSession) -> list[RenditionFigures]:
    """The renditions the live host gave the session (StreamSession.renditions), read as
    defensively as the encoder's report."""
    rungs: dict[str, RenditionFigures] = {}
    renditions = session.renditions if isinstance(session.renditions, list) else []
    for item in renditions:
        name = _rung_name(item)
        if name and name not in rungs:
            rung = rungs[name] = RenditionFigures(name)
            if isinstance(item, dict):
                rung.target_kbps = _number(item.get("video_kbps", item.get("target_kbps")))
                _fill_size(rung, item)
    return list(rungs.values())


def viewer_rungs(session: StreamSession, stats: EncoderStats | None) -> list[RenditionFigures]:
    """The qualities viewers can pick now. The encoder's report is the fresher (a host may lighten
    the ladder mid-stream), so its rungs win; the session's plan fills in what the report lacks."""
    planned = {rung.name: rung for rung in session_rungs(session)}
    if stats is None or not stats.rungs:
        return list(planned.values())
    for rung in stats.rungs:
        plan = planned.get(rung.name)
        if plan is not None:
            rung.target_kbps = rung.target_kbps if rung.target_kbps is not None else plan.target_kbps
            rung.width, rung.height = rung.width or plan.width, rung.height or plan.height
            rung.fps = rung.fps or plan.fps
            rung.passthrough = rung.passthrough or plan.passthrough
        if rung.passthrough and stats.input.fps:
            # A copy has the publisher's frames, as measured; the probe's guess may differ.
            rung.fps = stats.input.fps
    return stats.rungs


def encoder_stats(session: StreamSession) -> EncoderStats | None:
    """The live host's latest report for this session, or None when there is none (or it expired,
    or Redis is away)."""
    key = LiveKeys(current_app.config).stats(session.id)
    raw = optional_redis().ask(lambda redis: redis.get(key), otherwise=None, what="encoder stats")
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return parse_stats(data) if isinstance(data, dict) else None


def stop_cooldown_words() -> str | None:
    """How long Stop refuses the channel's publishes (STOP_COOLDOWN_SECONDS), or None if it doesn't."""
    seconds = int(current_app.config["STOP_COOLDOWN_SECONDS"])
    return duration_words(seconds) if seconds > 0 else None


def live_hosts_running() -> int | None:
    """How many live hosts are sending heartbeats, or None when Redis does not answer."""
    keys = LiveKeys(current_app.config)
    return optional_redis().ask(lambda redis: len(hosts.live_hosts(redis, keys)), otherwise=None,
                                what="the live hosts")


def panel_status(channel: Channel) -> str:
    """What the live panel says of the stream now (LivePanel.status), without its figures."""
    session = streams.open_session_for(channel)
    if session is None:
        return "stopped" if streams.stop_cooldown_left(channel) is not None else "offline"
    return streams.stream_status(channel, session)


def live_panel(channel: Channel) -> LivePanel:
    cooldown = stop_cooldown_words()
    session = streams.open_session_for(channel)
    if session is None:
        if streams.stop_cooldown_left(channel) is not None:
            return LivePanel("stopped", None, 0, None, stopped_until=channel.publish_blocked_until,
                             stop_cooldown=cooldown)
        return LivePanel("offline", None, 0, None, stop_cooldown=cooldown)
    status = streams.stream_status(channel, session)
    count = viewers.count(channel.id) if status == "live" else 0
    stats = encoder_stats(session)
    panel = LivePanel(status, session, count, stats, rungs=viewer_rungs(session, stats),
                      mode=session.mode or (stats.mode if stats else None), stop_cooldown=cooldown)
    if status == "starting" and session.mode is None and utcnow() - session.started_at >= HOST_WAIT:
        panel.waiting_for_host = True
        panel.hosts_running = live_hosts_running()
    return panel


def page_extras(channel: Channel, user) -> dict:
    """What the whole dashboard page adds to its fragments: the muted preview of the creator's own
    stream (channels/_player.html, as the channel page shows it), the channel's chat docked
    beside it (chat/_panel.html), and the last broadcast, whose summary the page links to."""
    return {"channel_status": channels.channel_status(channel), "stream": stream_state(channel),
            "chat": chat.panel(channel, user), "last_broadcast": last_broadcast(channel.id)}


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
                        latency_mode: str | None = None, vod_retention_days=None,
                        content_labels: list[str] | None = None) -> None:
    """The dashboard's Stream info form: channels.update_info plus how long recordings are kept,
    all saved together or, on any error, nothing (ChannelError names the field)."""
    days = parse_retention_days(vod_retention_days)
    channel.vod_retention_days = days
    try:
        channels.update_info(channel, title, category_id, tags_raw, mature=mature, record=record,
                             latency_mode=latency_mode, content_labels=content_labels)
    except channels.ChannelError:
        db.session.rollback()  # update_info checks before it changes anything; undo our field
        raise
