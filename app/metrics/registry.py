"""The instruments every process counts into, and the registry one scrape of /metrics reads.

Multiprocess mode (prometheus-client's): with PROMETHEUS_MULTIPROC_DIR set (`make run`'s
scripts/start.sh sets it for every process and empties it at start) each process writes its
counts to files of its own there, and a scrape adds up every process's: the gunicorn workers',
the RQ worker's, the live hosts'. gunicorn.conf.py drops a dead worker's live gauges
(`mark_process_dead`); its counters stay, so a restart never lowers a total. Without the
variable (tests, a one-off `flask` command) the instruments count in this process's memory.

What Redis, the database and nginx know (viewers, live sessions, encoder figures, RQ queues,
nginx's counters) is read when a scrape asks, by app.metrics.collectors, never kept here.
Names follow Prometheus's conventions: base units (seconds, bytes, bits per second), `_total`
on counters, and labels with a bounded set of values (no user input, no addresses).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """Where the processes of this box write their counts, or None in single-process mode."""
    found = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    return Path(found) if found else None


# prometheus-client opens its files there as soon as an instrument without labels is made, so
# the folder must exist first (start.sh makes it; a process started by hand may not have).
if (_folder := multiprocess_dir()) is not None:
    _folder.mkdir(parents=True, exist_ok=True)

# No `_created` series: multiprocess mode has none, so a single process should not either.
disable_created_metrics()

# The instruments live in a registry of their own, not prometheus-client's global one (whose
# process and platform collectors describe one process only, and are wrong in multiprocess mode).
INSTRUMENTS = CollectorRegistry(auto_describe=True)

# Request durations: from a cached page (a few ms) to a held LL-HLS playlist reload (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Held HLS requests wait up to three part targets (about 1 s) or three target durations.
HOLD_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# A part is written to disk in a millisecond; stored in a bucket in tens to hundreds.
PUBLISH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

HTTP_REQUESTS = Counter(
    "cascade_http_requests", "HTTP requests the app answered, by route (Flask endpoint), method and status.",
    ["method", "endpoint", "status"], registry=INSTRUMENTS)
HTTP_DURATION = Histogram(
    "cascade_http_request_duration_seconds", "Time the app took to answer an HTTP request, by route.",
    ["method", "endpoint"], buckets=LATENCY_BUCKETS, registry=INSTRUMENTS)

CHAT_MESSAGES = Counter(
    "cascade_chat_messages", "Chat messages stored: visible (broadcast to the channel) or held for review.",
    ["state"], registry=INSTRUMENTS)
CHAT_DELIVERIES = Counter(
    "cascade_chat_deliveries", "Chat events handed to a connected socket (one per socket per event).",
    ["event"], registry=INSTRUMENTS)
SOCKETS = Gauge(
    "cascade_socketio_connections", "Socket.IO connections open now.", ["namespace"],
    multiprocess_mode="livesum", registry=INSTRUMENTS)
SOCKET_CONNECTS = Counter(
    "cascade_socketio_connects", "Socket.IO connections accepted.", ["namespace"], registry=INSTRUMENTS)

PART_PUBLISH_LAG = Histogram(
    "cascade_live_part_publish_lag_seconds",
    "From the packager writing an LL-HLS part to announcing it (listed in its playlist and, with S3 "
    "storage, stored in the bucket): when held playlist requests can have it.",
    buckets=PUBLISH_BUCKETS, registry=INSTRUMENTS)
HLS_HOLDS = Histogram(
    "cascade_hls_hold_seconds",
    "How long the app held an LL-HLS request (a blocking playlist reload, a preload-hinted part), "
    "by outcome: ready (a reload answered at once), delivered (after waiting), timeout, fresh (a "
    "plain playlist request held for its next part).",
    ["kind", "outcome"], buckets=HOLD_BUCKETS, registry=INSTRUMENTS)

STORAGE_ERRORS = Counter(
    "cascade_storage_errors", "Object store operations that failed (each retry counts).", ["operation"],
    registry=INSTRUMENTS)
# What players report in their beats (app.analytics.collect), live and VOD: QoE across viewers.
PLAYER_SECONDS = Counter(
    "cascade_player_seconds", "Seconds players spent playing or rebuffering, as they reported them.",
    ["kind", "state"], registry=INSTRUMENTS)
PLAYER_REBUFFERS = Counter("cascade_player_rebuffers", "Rebuffering stalls players reported.", ["kind"],
                           registry=INSTRUMENTS)
PLAYER_FAILURES = Counter("cascade_player_failures", "Players that failed before their first frame.", ["kind"],
                          registry=INSTRUMENTS)
PLAYER_STARTUP = Histogram(
    "cascade_player_startup_seconds", "From play intent to the first frame, per player.", ["kind"],
    buckets=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0), registry=INSTRUMENTS)
PLAYER_LATENCY = Histogram(
    "cascade_player_latency_seconds", "Live players' latency to the live edge, one per beat.",
    buckets=(1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0), registry=INSTRUMENTS)

# The label values these take, so a scrape lists each series (at 0) before it first happens.
for _state in ("visible", "held"):
    CHAT_MESSAGES.labels(_state)
for _operation in ("mirror_put", "mirror_remove", "mirror_scan", "hls_read"):
    STORAGE_ERRORS.labels(_operation)
SOCKETS.labels("/chat")
SOCKET_CONNECTS.labels("/chat")
CHAT_DELIVERIES.labels("message")
for _kind in ("live", "vod"):
    for _player_state in ("playing", "rebuffering"):
        PLAYER_SECONDS.labels(_kind, _player_state)
    PLAYER_REBUFFERS.labels(_kind)
    PLAYER_FAILURES.labels(_kind)
    PLAYER_STARTUP.labels(_kind)


def observe_hold(kind: str, outcome: str, seconds: float) -> None:
    HLS_HOLDS.labels(kind, outcome).observe(max(0.0, seconds))


class _Instruments(Collector):
    """This process's instruments, for a scrape in single-process mode."""

    def collect(self) -> Iterable[Metric]:
        return INSTRUMENTS.collect()


def scrape_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """A registry for one scrape: every process's instruments (multiprocess mode) or this
    process's, and `extra` collectors that read what they report at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder is not None:
        MultiProcessCollector(registry, path=str(folder))
    else:
        registry.register(_Instruments())
    for collector in extra:
        registry.register(collector)
    return registry


def process_gone(pid: int) -> None:
    """Forget a dead process's live gauges (gunicorn's child_exit); its counters stay."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def files() -> Iterator[Path]:
    """The multiprocess files (tests look at which processes wrote)."""
    folder = multiprocess_dir()
    if folder is not None:
        yield from sorted(folder.glob("*.db"))
