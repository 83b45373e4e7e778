"""What the ingest server holds right now, from nginx-rtmp's statistics (`rtmp_stat`, XML, on the
loopback hook server: INGEST_STAT_URL). Each answer is None when the statistics cannot be read,
which callers must tell apart from "nothing there"."""
from __future__ import annotations

import urllib.request
from xml.etree import ElementTree


def _streams(stat_url: str, timeout: float):
    try:
        with urllib.request.urlopen(stat_url, timeout=timeout) as response:
            root = ElementTree.fromstring(response.read())
    except (OSError, ElementTree.ParseError):
        return None
    return list(root.iter("stream"))


def has_player(stat_url: str, name: str, timeout: float = 0.5) -> bool | None:
    """Whether a client is on stream `name`: a live host's pull, registered and waiting for the
    publisher."""
    streams = _streams(stat_url, timeout)
    if streams is None:
        return None
    return any(stream.findtext("name") == name and stream.find("client") is not None for stream in streams)


def publishing(stat_url: str, timeout: float = 1.0) -> set[str] | None:
    """The names of the streams a publisher is pushing. nginx-rtmp keeps streams per worker and
    this page comes from the worker that answers: after a reload the old worker's publishers
    (still connected, still pushing) are not on it."""
    streams = _streams(stat_url, timeout)
    if streams is None:
        return None
    return {name for stream in streams
            if (name := stream.findtext("name")) and any(client.find("publishing") is not None
                                                        for client in stream.iter("client"))}
