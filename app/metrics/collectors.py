"""What a scrape of /metrics reads at the moment it asks: the database, Redis and nginx.

These numbers already live somewhere shared (a live session's status and mode in the database,
viewers and each session's encoder figures and the RQ queues in Redis, nginx's own counters in
nginx), so copying them into per-process instruments would only make them stale or double them.
A scrape reads them once, whichever web worker answers it.

nginx and nginx-rtmp are read here too, rather than by nginx-prometheus-exporter and an RTMP
exporter: both pages (`stub_status`, `rtmp_stat all`) are on the loopback-only hook server that
the app already reads (INGEST_STAT_URL), so one scrape target covers the box and there are no
two more processes to install, supervise and secure. Each source is read with a short timeout;
one that does not answer is reported as `cascade_source_up{source=...} 0` and leaves its series
out, so a scrape never fails for it. Series per session or channel exist only while it is live.
"""
from __future__ import annotations

import json
import logging
import re
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from xml.etree import ElementTree

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select

log = logging.getLogger(__name__)

SOURCE_TIMEOUT = 0.5  # seconds per nginx page: a scrape's default timeout is 10 s
MODES = ("ladder", "reduced", "passthrough", "pending")  # pending: no live host has taken it yet
OPEN_STATES = ("live", "reconnecting")
RQ_STATES = ("queued", "started", "scheduled", "deferred", "failed", "finished")
_STUB_STATUS = re.compile(
    r"Active connections:\s*(?P<active>\d+).*?(?P<accepted>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+)\s*"
    r"Reading:\s*(?P<reading>\d+)\s*Writing:\s*(?P<writing>\d+)\s*Waiting:\s*(?P<waiting>\d+)", re.DOTALL)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _fetch(url: str, timeout: float = SOURCE_TIMEOUT) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError:
        return None


Session = tuple[int, str, str | None, int, str]  # id, status, mode, channel id, channel slug


class BoxCollector(Collector):
    """Live sessions, viewers, encoder figures, live hosts, RQ queues (for the app whose config
    this is: a scrape runs in its request's app context) and nginx's and nginx-rtmp's figures."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("cascade_source_up", "Whether /metrics could read a source at this scrape.",
                               labels=["source"])
        sessions: list[Session] = []
        for source, read in (("database", lambda: self._sessions(sessions)),
                             ("redis", lambda: self._redis(sessions))):
            try:
                found = list(read())
            except Exception as error:  # noqa: BLE001 - a source that fails is reported, not raised
                log.warning("metrics: cannot read the %s (%s)", source, type(error).__name__)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from found
        yield from nginx_metrics(self.config["NGINX_STATUS_URL"],
                                 self.config["INGEST_STAT_URL"] if self.config.get("INGEST") == "nginx" else None,
                                 up)
        yield up

    # --- the database: open sessions by status and mode -------------------------------------

    def _sessions(self, sessions: list[Session]) -> Iterator[Metric]:
        from app.extensions import db
        from app.models import Channel, StreamSession

        rows = db.session.execute(
            select(StreamSession.id, StreamSession.status, StreamSession.mode, Channel.id, Channel.slug)
            .join(Channel, Channel.id == StreamSession.channel_id)
            .where(StreamSession.status.in_(OPEN_STATES))).all()
        sessions.extend((row[0], row[1], row[2], row[3], row[4]) for row in rows)
        family = GaugeMetricFamily("cascade_live_sessions", "Open live sessions by status and mode.",
                                   labels=["status", "mode"])
        counted = {(status, mode): 0 for status in OPEN_STATES for mode in MODES}
        for _, status, mode, _, _ in sessions:
            counted[(status, mode if mode in MODES else "pending")] += 1
        for (status, mode), number in counted.items():
            family.add_metric([status, mode], number)
        yield family

    # --- Redis: viewers, encoder figures, hosts, queues ----------------------------------------

    def _redis(self, sessions: list[Session]) -> Iterator[Metric]:
        from app.extensions import get_redis

        redis = get_redis()
        redis.ping()  # one quick question first: the rest may be several round trips
        yield from self._viewers(sessions)
        yield from self._encoders(redis, sessions)
        yield from self._hosts(redis)
        yield from self._queues(redis)

    def _viewers(self, sessions: list[Session]) -> Iterator[Metric]:
        from app.streams.viewers import counts

        channels = {channel_id: slug for _, _, _, channel_id, slug in sessions}
        viewers = GaugeMetricFamily("cascade_live_viewers", "Concurrent viewers of a live channel (heartbeats).",
                                    labels=["channel"])
        for channel_id, number in counts(channels).items():
            viewers.add_metric([channels[channel_id]], number)
        yield viewers

    def _encoders(self, redis: Any, sessions: list[Session]) -> Iterator[Metric]:
        from app.live.state import LiveKeys

        families = {
            "bitrate": GaugeMetricFamily(
                "cascade_live_ingest_bytes_per_second",
                "What the publisher sends, over the last 5 s of its stream time (audio and video).",
                labels=["session", "channel"]),
            "fps": GaugeMetricFamily(
                "cascade_live_ingest_frames_per_second", "The publisher's frame rate over the last 5 s.",
                labels=["session", "channel"]),
            "speed": GaugeMetricFamily(
                "cascade_live_encoder_speed_ratio",
                "Media seconds the encoder made per second over the last 10 s (below 1 falls behind); "
                "no series for a passthrough session.", labels=["session", "channel"]),
            "dropped": GaugeMetricFamily(
                "cascade_live_encoder_dropped_frames",
                "Frames the encoder dropped per rendition over the last 10 s.", labels=["session", "channel"]),
            "age": GaugeMetricFamily(
                "cascade_live_input_age_seconds", "Seconds since the ingest server last sent media.",
                labels=["session", "channel"]),
        }
        live = [(session_id, slug) for session_id, status, _, _, slug in sessions if status == "live"]
        keys = LiveKeys(self.config)
        raws = redis.mget([keys.stats(session_id) for session_id, _ in live]) if live else []
        for (session_id, slug), raw in zip(live, raws):
            if raw is None:
                continue
            try:
                stats = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(stats, dict):
                continue
            labels = [str(session_id), slug]
            given = stats.get("input")
            given = given if isinstance(given, dict) else {}
            recent = stats.get("frames_recent")
            recent = recent if isinstance(recent, dict) else {}
            kbps = _number(given.get("kbps"))
            figures = {
                "bitrate": kbps * 1000 / 8 if kbps is not None else None,
                "fps": _number(given.get("fps")),
                "speed": _number(recent.get("speed")) if stats.get("speed") is not None else None,
                "dropped": _number(recent.get("dropped")),
                "age": _number(stats.get("input_age")),
            }
            if figures["speed"] is None and stats.get("speed") is not None:
                figures["speed"] = _number(stats.get("speed"))
            for name, value in figures.items():
                if value is not None:
                    families[name].add_metric(labels, value)
        yield from families.values()

    def _hosts(self, redis: Any) -> Iterator[Metric]:
        from app.live.hosts import live_hosts
        from app.live.state import LiveKeys

        hosts = live_hosts(redis, LiveKeys(self.config))
        count = GaugeMetricFamily("cascade_live_hosts", "Live hosts whose heartbeat is current.")
        count.add_metric([], len(hosts))
        capacity = GaugeMetricFamily("cascade_live_host_capacity_cores", "Cores a live host may give encoders.",
                                     labels=["host"])
        reserved = GaugeMetricFamily("cascade_live_host_reserved_cores",
                                     "Cores a live host's sessions were admitted at.", labels=["host"])
        load = GaugeMetricFamily("cascade_live_host_load_cores",
                                 "Cores a live host's encoders used over the last seconds.", labels=["host"])
        sessions = GaugeMetricFamily("cascade_live_host_sessions", "Sessions a live host runs.", labels=["host"])
        for host in hosts:
            capacity.add_metric([host.id], host.capacity_cores)
            reserved.add_metric([host.id], host.reserved_cores)
            load.add_metric([host.id], host.load_cores)
            sessions.add_metric([host.id], len(host.sessions))
        yield from (count, capacity, reserved, load, sessions)

    def _queues(self, redis: Any) -> Iterator[Metric]:
        from rq import Queue, Worker
        from rq.registry import (
            DeferredJobRegistry,
            FailedJobRegistry,
            FinishedJobRegistry,
            ScheduledJobRegistry,
            StartedJobRegistry,
        )

        name = self.config["RQ_QUEUE"]
        queue = Queue(name, connection=redis)
        jobs = GaugeMetricFamily("cascade_rq_jobs", "RQ jobs by state: queued is the queue's depth; failed "
                                 "and finished are the jobs kept in those registries (failure_ttl, result_ttl).",
                                 labels=["queue", "state"])
        registries = {"started": StartedJobRegistry, "scheduled": ScheduledJobRegistry,
                      "deferred": DeferredJobRegistry, "failed": FailedJobRegistry,
                      "finished": FinishedJobRegistry}
        jobs.add_metric([name, "queued"], queue.count)
        for state, registry in registries.items():
            jobs.add_metric([name, state], registry(queue=queue).count)
        workers = GaugeMetricFamily("cascade_rq_workers", "RQ workers listening on the queue.", labels=["queue"])
        workers.add_metric([name], Worker.count(queue=queue))
        yield from (jobs, workers)


def nginx_metrics(status_url: str, rtmp_url: str | None, up: GaugeMetricFamily) -> Iterator[Metric]:
    """nginx's connection and request counters (stub_status) and, with nginx-rtmp as the ingest,
    its streams (rtmp_stat); whether each answered goes into `up`."""
    status = _fetch(status_url)
    found = parse_stub_status(status.decode(errors="replace")) if status is not None else None
    up.add_metric(["nginx"], 1 if found is not None else 0)
    if found is not None:
        yield from stub_status_metrics(found)
    if rtmp_url:
        body = _fetch(rtmp_url)
        families = rtmp_metrics(body) if body is not None else None
        up.add_metric(["nginx_rtmp"], 1 if families is not None else 0)
        if families is not None:
            yield from families


def parse_stub_status(text: str) -> dict[str, int] | None:
    """stub_status's page as numbers, or None for anything else."""
    match = _STUB_STATUS.search(text)
    return {key: int(value) for key, value in match.groupdict().items()} if match else None


def stub_status_metrics(found: Mapping[str, int]) -> Iterable[Metric]:
    connections = GaugeMetricFamily("cascade_nginx_connections", "nginx's client connections by state.",
                                    labels=["state"])
    for state in ("active", "reading", "writing", "waiting"):
        connections.add_metric([state], found[state])
    accepted = CounterMetricFamily("cascade_nginx_connections_accepted", "Client connections nginx accepted.")
    accepted.add_metric([], found["accepted"])
    handled = CounterMetricFamily("cascade_nginx_connections_handled", "Client connections nginx handled.")
    handled.add_metric([], found["handled"])
    requests = CounterMetricFamily("cascade_nginx_http_requests", "HTTP requests nginx received.")
    requests.add_metric([], found["requests"])
    return [connections, accepted, handled, requests]


def _int(element: ElementTree.Element | None, tag: str) -> int:
    text = element.findtext(tag) if element is not None else None
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def rtmp_metrics(body: bytes) -> list[Metric] | None:
    """nginx-rtmp's `rtmp_stat all` XML as metric families, or None when it is not that page.
    Its bw_* figures are bits per second (Prometheus's base unit is the byte); streams are named by
    their internal names (st-...)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag != "rtmp":
        return None
    received = CounterMetricFamily("cascade_rtmp_received_bytes", "Bytes nginx-rtmp received (publishers).")
    received.add_metric([], _int(root, "bytes_in"))
    sent = CounterMetricFamily("cascade_rtmp_sent_bytes", "Bytes nginx-rtmp sent (live hosts' pulls).")
    sent.add_metric([], _int(root, "bytes_out"))
    bandwidth = GaugeMetricFamily("cascade_rtmp_bytes_per_second", "nginx-rtmp's bandwidth in each direction.",
                                  labels=["direction"])
    bandwidth.add_metric(["in"], _int(root, "bw_in") / 8)
    bandwidth.add_metric(["out"], _int(root, "bw_out") / 8)
    accepted = CounterMetricFamily("cascade_rtmp_connections_accepted", "RTMP connections nginx-rtmp accepted.")
    accepted.add_metric([], _int(root, "naccepted"))
    stream_in = GaugeMetricFamily("cascade_rtmp_stream_bytes_per_second",
                                  "What a publisher pushes into nginx-rtmp (audio and video).", labels=["stream"])
    clients = GaugeMetricFamily("cascade_rtmp_stream_clients", "Clients of a stream: its publisher and pulls.",
                                labels=["stream"])
    publishers = 0
    for stream in root.iter("stream"):
        name = stream.findtext("name") or ""
        if not re.fullmatch(r"st-[0-9a-f]{16}", name):
            continue  # only internal names (a stream key never reaches this page after the rename)
        stream_in.add_metric([name], _int(stream, "bw_in") / 8)
        clients.add_metric([name], len(stream.findall("client")))
        if any(client.find("publishing") is not None for client in stream.iter("client")):
            publishers += 1
    publishing = GaugeMetricFamily("cascade_rtmp_publishers", "Streams a publisher is pushing into nginx-rtmp.")
    publishing.add_metric([], publishers)
    return [received, sent, bandwidth, accepted, stream_in, clients, publishing]
