"""What the players report, kept in Redis until the rollup job writes it to the database.

A beat (every 10 s, at once on pause and resume, and a final beacon) carries deltas since the
player's previous beat: time playing and rebuffering, rebuffers, errors, time per rendition,
dropped frames, VOD positions played; and once, the startup time or the failure before the first
frame. One Lua script applies a beat atomically: it drops a repeated `seq`, adds the deltas to the
player's session hash and to the hashes of the minutes they fall in (split at minute boundaries),
counts a join when the session starts and a leave when it ends, and marks what changed in a
"dirty" sorted set for the job (workers/analytics.py), which writes absolute values, so a job
killed half way only writes the same rows again.

Redis keys (QUEUE is RQ_QUEUE, so two sites or test stacks sharing a Redis stay apart):
  cascade:an:{QUEUE}:s:{subject}:{play id}   hash: one player session (2 days after its last beat)
  cascade:an:{QUEUE}:m:{subject}:{epoch}     hash: one minute of a subject (26 h)
  cascade:an:{QUEUE}:dirty                   zset: keys changed since the job last wrote them
  cascade:an:{QUEUE}:active                  zset: open session keys by last beat (for leaves)

No address is kept: the viewer key is a daily-salted HMAC (app.streams.viewers.address_key) for
anonymous viewers, a per-channel pseudonym for signed-in ones.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app

from ..extensions import optional_redis
from ..metrics import registry as metrics
from ..streams.viewers import COUNTED_STATES, STATES, WINDOW_SECONDS

SESSION_TTL = 2 * 86400
MINUTE_TTL = 26 * 3600  # a day of the job being down, and the minutes are still there to write
MAX_DELTA_MS = 65_000  # a beat covers ~10 s; a phone's throttled background timer up to a minute
STARTUP_BUCKETS = (250, 500, 1000, 2000, 4000, 8000, 15000, 30000)  # ms upper bounds; the rest over
LATENCY_BUCKETS = (1000, 1500, 2000, 3000, 4000, 6000, 10000, 20000)
POSITIONS = 100  # a VOD's positions are kept as the hundredths of it played
DEVICES = ("phone", "tablet", "tv", "desktop")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
# Four classes are all the pages show; a user-agent parser's thousand families would be wasted.
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|android(?!.*mobile)", re.IGNORECASE)
_PHONE = re.compile(r"mobi|iphone|ipod|android|windows phone", re.IGNORECASE)
_TV = re.compile(r"smart-?tv|hbbtv|appletv|googletv|crkey|roku|tizen|webos|bravia|aft[a-z]", re.IGNORECASE)


class BadBeat(ValueError):
    """A beat whose fields are not what the contract says (answered 400, nothing recorded)."""


def live_subject(session_id: int) -> str:
    return f"live:{int(session_id)}"


def vod_subject(vod_id: int) -> str:
    return f"vod:{int(vod_id)}"


def prefix() -> str:
    return f"cascade:an:{current_app.config['RQ_QUEUE']}"


def minute_of(moment: float) -> int:
    return int(moment // 60 * 60)


def bucket(value: float, bounds: tuple[int, ...]) -> int:
    """The histogram bucket (its upper bound in ms; 0 for over the last one) a value falls in."""
    for bound in bounds:
        if value <= bound:
            return bound
    return 0


def device_class(user_agent: str) -> str:
    if _TV.search(user_agent):
        return "tv"
    if _TABLET.search(user_agent):
        return "tablet"
    if _PHONE.search(user_agent):
        return "phone"
    return "desktop"


def referrer_host(value, own_host: str) -> str | None:
    """The referring site's host name (nothing else of it), or None for ours or nonsense."""
    host = str(value or "").strip().lower().rstrip(".")[:253]
    if not host or not _HOST.match(host) or host == own_host.split(":")[0].lower():
        return None
    return host


def signed_in_key(channel_id: int, user_id: int) -> str:
    """A signed-in viewer's pseudonym for one channel: the same every day, useless elsewhere."""
    message = f"viewer|{channel_id}|{user_id}".encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256).hexdigest()[:16]


@dataclass
class Beat:
    """A beat's fields, checked and clamped (`parse`)."""

    viewer: str
    state: str
    seq: int | None = None
    play_ms: float = 0.0
    rebuffer_ms: float = 0.0
    rebuffers: int = 0
    startup_ms: int | None = None
    failed: str | None = None
    errors: int = 0
    renditions: dict[str, float] = field(default_factory=dict)
    # Per rendition height: {"rebuffer_ms", "upscale_ms", "dropped", "frames"}.
    by_rendition: dict[str, dict[str, float]] = field(default_factory=dict)
    upscale_ms: float = 0.0
    latency_ms: float | None = None
    target_ms: float | None = None
    dropped: int = 0
    frames: int = 0
    referrer: str | None = None
    embed: bool = False
    ranges: list[tuple[float, float]] = field(default_factory=list)


def _number(data: dict, name: str, most: float) -> float:
    value = data.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadBeat(f"{name} must be a number")
    return float(min(max(value, 0.0), most))


def parse(data: dict, viewer: str) -> Beat:
    """Check a beat: its viewer id and state, and its QoE fields (a wrong type is refused with
    BadBeat, a number out of range clamped)."""
    state = str(data.get("state") or "playing")
    if len(viewer) < 8:
        raise BadBeat("viewer must be a random id of 8+ characters")
    if state not in STATES:
        raise BadBeat(f"state must be one of {', '.join(STATES)}")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**31):
        raise BadBeat("seq must be a whole number")
    beat = Beat(viewer=viewer, state=state, seq=seq,
                play_ms=_number(data, "play_ms", MAX_DELTA_MS),
                rebuffer_ms=_number(data, "rebuffer_ms", MAX_DELTA_MS),
                rebuffers=int(_number(data, "rebuffers", 100)),
                errors=int(_number(data, "errors", 100)),
                upscale_ms=_number(data, "upscale_ms", MAX_DELTA_MS),
                dropped=int(_number(data, "dropped", 10_000)),
                frames=int(_number(data, "frames", 10_000)),
                embed=data.get("embed") is True)
    if data.get("startup_ms") is not None:
        beat.startup_ms = int(_number(data, "startup_ms", 600_000))
    if data.get("latency_ms") is not None:
        beat.latency_ms = _number(data, "latency_ms", 600_000)
    if data.get("target_ms") is not None:
        beat.target_ms = _number(data, "target_ms", 600_000)
    if data.get("failed") is not None:
        beat.failed = re.sub(r"[^A-Za-z0-9_.:-]", "", str(data["failed"]))[:40] or "error"
    renditions = data.get("renditions") or {}
    if not isinstance(renditions, dict):
        raise BadBeat("renditions must be an object of {height: ms}")
    for height in list(renditions)[:8]:
        if not str(height).isdigit() or len(str(height)) > 4:
            raise BadBeat("renditions must be an object of {height: ms}")
        beat.renditions[str(int(height))] = _number(renditions, height, MAX_DELTA_MS)
    by_rendition = data.get("by_rendition") or {}
    if not isinstance(by_rendition, dict) or not all(isinstance(v, dict) for v in by_rendition.values()):
        raise BadBeat("by_rendition must be an object of {height: {rebuffer_ms, upscale_ms, dropped, frames}}")
    for height in list(by_rendition)[:8]:
        if not str(height).isdigit() or len(str(height)) > 4:
            raise BadBeat("by_rendition must be an object of {height: {rebuffer_ms, upscale_ms, dropped, frames}}")
        got = by_rendition[height]
        beat.by_rendition[str(int(height))] = {
            "rebuffer_ms": _number(got, "rebuffer_ms", MAX_DELTA_MS),
            "upscale_ms": _number(got, "upscale_ms", MAX_DELTA_MS),
            "dropped": int(_number(got, "dropped", 10_000)), "frames": int(_number(got, "frames", 10_000))}
    ranges = data.get("ranges") or []
    if not isinstance(ranges, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(x, int | float) and not isinstance(x, bool)
                                                         and math.isfinite(x) for x in r) for r in ranges):
        raise BadBeat("ranges must be a list of [from, to] positions in seconds")
    beat.ranges = [(max(0.0, float(a)), float(b)) for a, b in ranges[:50] if b >= a]
    beat.referrer = data.get("referrer") if isinstance(data.get("referrer"), str) else None
    # Playing and rebuffering share the beat's interval: together they cannot exceed it.
    total = beat.play_ms + beat.rebuffer_ms
    if total > MAX_DELTA_MS:
        scale = MAX_DELTA_MS / total
        beat.play_ms *= scale
        beat.rebuffer_ms *= scale
    beat.upscale_ms = min(beat.upscale_ms, beat.play_ms)
    return beat


def _split(end: float, seconds: float) -> list[tuple[int, float]]:
    """[(minute, share of `seconds`)] for the interval of `seconds` that ended at `end`."""
    if seconds <= 0:
        return [(minute_of(end), 0.0)]
    start, parts = end - seconds, []
    moment = start
    while moment < end:
        minute = minute_of(moment)
        upto = min(end, minute + 60)
        parts.append((minute, (upto - moment) / seconds))
        moment = upto
    return parts


# KEYS: session hash, dirty zset, active zset. ARGV: seq (or -1), now, payload (JSON).
_APPLY = """
local s, dirty, active = KEYS[1], KEYS[2], KEYS[3]
local seq, now, p = tonumber(ARGV[1]), tonumber(ARGV[2]), cjson.decode(ARGV[3])
if seq >= 0 then
  local last = tonumber(redis.call('HGET', s, 'seq') or '-1')
  if seq <= last then return 0 end
end
local fresh = redis.call('HEXISTS', s, 'started') == 0
if seq >= 0 then redis.call('HSET', s, 'seq', seq) end
for k, v in pairs(p.first) do redis.call('HSETNX', s, k, v) end
local reopened = redis.call('HDEL', s, 'ended') == 1
for k, v in pairs(p.set) do redis.call('HSET', s, k, v) end
for k, v in pairs(p.incr) do redis.call('HINCRBYFLOAT', s, k, v) end
for _, pos in ipairs(p.positions) do redis.call('HSET', s, 'p:' .. pos, 1) end
local here = p.here
local function touch(m)
  for k, v in pairs(p.meta) do redis.call('HSETNX', m, k, v) end
  redis.call('EXPIRE', m, p.minute_ttl)
  redis.call('ZADD', dirty, now, m)
end
for m, fields in pairs(p.minutes) do
  for k, v in pairs(fields) do redis.call('HINCRBYFLOAT', m, k, v) end
  touch(m)
end
touch(here)
if p.startup_bucket and redis.call('HSETNX', s, 'startup_ms', p.startup_ms) == 1 then
  redis.call('HINCRBY', here, 'st:' .. p.startup_bucket, 1)
end
if p.failed and redis.call('HSETNX', s, 'failed', p.failed) == 1 then
  redis.call('HINCRBY', here, 'failures', 1)
end
if p.viewers then
  if tonumber(redis.call('HGET', here, 'viewers_max') or '0') < p.viewers then
    redis.call('HSET', here, 'viewers_max', p.viewers)
  end
end
if fresh or reopened then redis.call('HINCRBY', here, 'joins', 1) end
if p.ending then
  redis.call('HSET', s, 'ended', now)
  redis.call('HINCRBY', here, 'leaves', 1)
  redis.call('ZREM', active, s)
else
  redis.call('ZADD', active, now, s)
end
redis.call('EXPIRE', s, p.session_ttl)
redis.call('ZADD', dirty, now, s)
return 1
"""

# KEYS: session hash, dirty zset, active zset. ARGV: the minute key prefix. A session silent for
# longer than the viewer window leaves at its last beat (once, even if two jobs race).
_CLOSE = """
local s, dirty, active = KEYS[1], KEYS[2], KEYS[3]
redis.call('ZREM', active, s)
if redis.call('EXISTS', s) == 0 or redis.call('HEXISTS', s, 'ended') == 1 then return 0 end
local last = tonumber(redis.call('HGET', s, 'last_seen') or '0')
redis.call('HSET', s, 'ended', last)
local m = ARGV[1] .. (math.floor(last / 60) * 60)
redis.call('HINCRBY', m, 'leaves', 1)
local meta = cjson.decode(ARGV[2])
for k, v in pairs(meta) do redis.call('HSETNX', m, k, v) end
redis.call('EXPIRE', m, tonumber(ARGV[3]))
redis.call('ZADD', dirty, last, m)
redis.call('ZADD', dirty, last, s)
return 1
"""


@dataclass
class Watching:
    """What a beat is about: the subject, its channel, and who (pseudonymously) and how."""

    subject: str
    channel_id: int
    stream_session_id: int | None = None
    vod_id: int | None = None
    started_at: float | None = None  # the broadcast's start, for "joined N s in"
    vod_seconds: float = 0.0
    viewer_key: str = ""
    device: str = "desktop"
    own_host: str = ""


META_FIELDS = ("subject", "channel", "session", "vod")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _meta(watching: Watching) -> dict:
    return {"subject": watching.subject, "channel": watching.channel_id,
            "session": watching.stream_session_id or "", "vod": watching.vod_id or ""}


def _payload(beat: Beat, watching: Watching, now: float, viewers: int | None) -> dict:
    minute_prefix = f"{prefix()}:m:{watching.subject}:"
    counted = beat.state in COUNTED_STATES
    present = (beat.play_ms + beat.rebuffer_ms) / 1000
    incr: dict[str, float] = {"play_s": beat.play_ms / 1000, "rebuffer_s": beat.rebuffer_ms / 1000,
                              "rebuffers": beat.rebuffers, "errors": beat.errors,
                              "upscale_s": beat.upscale_ms / 1000, "dropped": beat.dropped,
                              "frames": beat.frames}
    for height, ms in beat.renditions.items():
        incr[f"r:{height}"] = ms / 1000
    if beat.latency_ms is not None and counted:
        incr[f"l:{bucket(beat.latency_ms, LATENCY_BUCKETS)}"] = 1
    minutes: dict[str, dict[str, float]] = {}
    for minute, share in _split(now, present):
        fields = minutes.setdefault(f"{minute_prefix}{minute}", {})
        for name in ("play_s", "rebuffer_s", "upscale_s"):
            fields[name] = fields.get(name, 0.0) + incr[name] * share
        fields["present_s"] = fields.get("present_s", 0.0) + present * share
        for height, ms in beat.renditions.items():
            fields[f"r:{height}"] = fields.get(f"r:{height}", 0.0) + ms / 1000 * share
    here = f"{minute_prefix}{minute_of(now)}"
    counts = minutes.setdefault(here, {})
    for name in ("rebuffers", "errors", "dropped", "frames"):
        counts[name] = counts.get(name, 0) + incr[name]
    for height, got in beat.by_rendition.items():  # into the beat's minute: a beat's span at most
        for key, value in (("qr", got["rebuffer_ms"] / 1000), ("qu", got["upscale_ms"] / 1000),
                           ("qd", got["dropped"]), ("qf", got["frames"])):
            if value:
                counts[f"{key}:{height}"] = counts.get(f"{key}:{height}", 0) + value
    if beat.latency_ms is not None and counted:
        name = f"l:{bucket(beat.latency_ms, LATENCY_BUCKETS)}"
        counts[name] = counts.get(name, 0) + 1
    positions: list[int] = []
    if watching.vod_seconds > 0:
        for start, end in beat.ranges:
            low = int(min(start, watching.vod_seconds) / watching.vod_seconds * POSITIONS)
            high = int(min(end, watching.vod_seconds) / watching.vod_seconds * POSITIONS)
            positions.extend(range(low, min(high, POSITIONS - 1) + 1))
    first: dict[str, object] = {"started": now, "viewer_key": watching.viewer_key, "device": watching.device,
                                "embed": int(beat.embed), **_meta(watching)}
    if watching.started_at is not None:
        first["joined_after"] = max(0.0, now - watching.started_at)
    referrer = referrer_host(beat.referrer, watching.own_host)
    if referrer:
        first["referrer"] = referrer
    latest: dict[str, object] = {"state": beat.state, "last_seen": now}
    if beat.target_ms is not None:
        latest["target_ms"] = int(beat.target_ms)
    payload: dict[str, object] = {
        "first": first, "set": latest, "incr": incr,
        "positions": sorted(set(positions)), "minutes": minutes, "here": here, "meta": _meta(watching),
        "minute_ttl": MINUTE_TTL, "session_ttl": SESSION_TTL, "ending": beat.state == "ended",
        "viewers": viewers if counted and viewers is not None else None,
    }
    if beat.startup_ms is not None:
        payload["startup_ms"] = beat.startup_ms
        payload["startup_bucket"] = bucket(beat.startup_ms, STARTUP_BUCKETS)
    if beat.failed:
        payload["failed"] = beat.failed
    return payload


def _cjson_safe(payload: dict) -> dict:
    # Lua's cjson turns an empty JSON object into an empty table, and nulls into cjson.null,
    # which is truthy: leave None out so `if p.x` means what it says.
    return {key: value for key, value in payload.items() if value is not None}


def record(beat: Beat, watching: Watching, *, viewers: int | None = None, now: float | None = None) -> bool | None:
    """Apply one beat; True if applied, False if its seq was seen, None while Redis is away."""
    moment = datetime.now(UTC).timestamp() if now is None else now
    payload = _cjson_safe(_payload(beat, watching, moment, viewers))
    base = prefix()
    session_key = f"{base}:s:{watching.subject}:{beat.viewer}"

    def apply(redis) -> bool:
        script = redis.register_script(_APPLY)
        return bool(script(keys=[session_key, f"{base}:dirty", f"{base}:active"],
                           args=[-1 if beat.seq is None else beat.seq, moment, json.dumps(payload)]))

    applied = optional_redis().ask(apply, otherwise=None, what="a player's analytics")
    if applied:
        _count(beat, watching.subject.split(":", 1)[0])
    return applied


def _count(beat: Beat, kind: str) -> None:
    """The beat in /metrics too (app.metrics.registry), once it is applied."""
    metrics.PLAYER_SECONDS.labels(kind, "playing").inc(beat.play_ms / 1000)
    metrics.PLAYER_SECONDS.labels(kind, "rebuffering").inc(beat.rebuffer_ms / 1000)
    metrics.PLAYER_REBUFFERS.labels(kind).inc(beat.rebuffers)
    if beat.failed:
        metrics.PLAYER_FAILURES.labels(kind).inc()
    if beat.startup_ms is not None:
        metrics.PLAYER_STARTUP.labels(kind).observe(beat.startup_ms / 1000)
    if beat.latency_ms is not None and beat.state in COUNTED_STATES:
        metrics.PLAYER_LATENCY.observe(beat.latency_ms / 1000)


def close_silent(redis, now: float) -> int:
    """Count a leave for every session that has not beaten for the viewer window (the job)."""
    base = prefix()
    script = redis.register_script(_CLOSE)
    closed = 0
    for key in redis.zrangebyscore(f"{base}:active", "-inf", now - WINDOW_SECONDS):
        key = _text(key)
        subject = key[len(f"{base}:s:"):].rsplit(":", 1)[0]
        meta = {name: _text(value) for name, value in zip(META_FIELDS, redis.hmget(key, *META_FIELDS))
                if value is not None}
        closed += int(script(keys=[key, f"{base}:dirty", f"{base}:active"],
                             args=[f"{base}:m:{subject}:", json.dumps(meta), MINUTE_TTL]))
    return closed
