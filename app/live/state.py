"""What the processes of a live stream share, defined once: names, folders, keys, timings, messages.

The publish hook (web), the live hosts, the HLS delivery endpoints, the VOD job and retention all
import these instead of spelling them out, so a change here changes every side at once.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from ..config import ROOT, Config

# The name the ingest server knows a stream by after the publish hook renames it: unlike the
# stream key it is safe in paths, URLs, process lists and logs.
INTERNAL_NAME = re.compile(r"st-[0-9a-f]{16}")

# A publisher who drops and returns within this long continues the same session (same URLs,
# one recording). The session holds no encoder while it waits. RECONNECT_GRACE_SECONDS in the
# environment (30 unless set), read once per process, as every process needs the same length.
RECONNECT_GRACE = timedelta(seconds=Config.RECONNECT_GRACE_SECONDS)

# What a finished session leaves beside its playlists for the VOD job (workers.live.finish).
RECORDING_MANIFEST = "recording.json"

# The packager announces each new part on ANNOUNCE_PREFIX + internal name; the web's held
# playlist requests listen (app.hls.services.PartListener).
ANNOUNCE_PREFIX = "cascade:hls:"


def new_internal_name() -> str:
    return f"st-{secrets.token_hex(8)}"


def media_root(config: Mapping) -> Path:
    """MEDIA_ROOT made absolute against the project folder (not the working directory), so the
    web, the live hosts and the jobs find the same folder whatever directory they start in."""
    root = Path(config["MEDIA_ROOT"])
    return root if root.is_absolute() else ROOT / root


def hls_root(config: Mapping) -> Path:
    return media_root(config) / "hls"


def hls_dir(config: Mapping, internal_name: str) -> Path:
    """A session's live output: master.m3u8 and a folder per rendition."""
    if not INTERNAL_NAME.fullmatch(internal_name):
        raise ValueError(f"not an internal stream name: {internal_name!r}")
    return hls_root(config) / internal_name


def work_dir(config: Mapping, internal_name: str) -> Path:
    """Scratch files of a live session that viewers never fetch (thumbnails being written)."""
    if not INTERNAL_NAME.fullmatch(internal_name):
        raise ValueError(f"not an internal stream name: {internal_name!r}")
    return media_root(config) / "work" / internal_name


def pull_url(config: Mapping, internal_name: str, ingest_url: str | None = None) -> str:
    """Where a live host pulls the stream: the ingest server that holds it (`ingest_url`, from the
    publish hook) or the configured INGEST_PULL_URL."""
    template = ingest_url or config["INGEST_PULL_URL"]
    return template.format(rtmp_port=config["RTMP_PORT"], name=internal_name)


def announce_channel(internal_name: str) -> str:
    """The Redis channel the packager announces `internal_name`'s new parts on."""
    return f"{ANNOUNCE_PREFIX}{internal_name}"


def announcement(rung: str, msn: int, part: int) -> str:
    """The message the packager publishes after writing a part (and the playlist that lists it)."""
    return f"{rung} {msn} {part}"


def parse_announcement(text: str) -> tuple[str, int, int] | None:
    fields = text.split()
    if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
        return None
    return fields[0], int(fields[1]), int(fields[2])


class LiveKeys:
    """Redis keys of the live runtime, under one site's namespace (RQ_QUEUE), since several sites
    or test stacks may share one Redis database and their session ids repeat."""

    def __init__(self, config: Mapping) -> None:
        self.site = config["RQ_QUEUE"]
        self.prefix = f"cascade:{self.site}:live:"

    def lease(self, session_id: int) -> str:
        """The owner of a session: `<host id> <token>`, TTL = the lease's (app.live.lease)."""
        return f"{self.prefix}lease:{int(session_id)}"

    def fence(self, session_id: int) -> str:
        """The session's fencing counter: every new owner's token is greater than any before."""
        return f"{self.prefix}fence:{int(session_id)}"

    def stats(self, session_id: int) -> str:
        """Encoder statistics for the dashboard (JSON, a few seconds' TTL)."""
        return f"{self.prefix}stats:{int(session_id)}"

    def placement(self, session_id: int) -> str:
        """The host the publish hook chose for a session; others leave it alone for a moment."""
        return f"{self.prefix}placement:{int(session_id)}"

    def pulling(self, session_id: int) -> str:
        """A list the session's runner pushes to once its first pull is connected to the ingest
        server: the publish hook waits for it, so that pull gets the stream from its first
        frame (nginx-rtmp keeps no GOP: a later joiner waits for the next keyframe)."""
        return f"{self.prefix}pulling:{int(session_id)}"

    def host(self, host_id: str) -> str:
        """A live host's heartbeat: JSON capacity, load and sessions (app.live.hosts)."""
        return f"{self.prefix}host:{host_id}"

    def cost_model(self, machine: str) -> str:
        """A machine's measured encoding costs (JSON, hours): a restarted host reuses them."""
        return f"{self.prefix}cost-model:{machine}"

    @property
    def hosts(self) -> str:
        """Sorted set of host ids by last heartbeat (seconds since the epoch)."""
        return f"{self.prefix}hosts"

    @property
    def wake(self) -> str:
        """Pub/sub channel: a session needs an owner now (publish) or stopped (leave)."""
        return f"{self.prefix}wake"
