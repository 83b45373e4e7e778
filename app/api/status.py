"""What a channel's stream is doing now, in the words the API and the channel page's player use."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Channel, StreamSession
from ..streams import services as streams


@dataclass
class StreamState:
    status: str
    mode: str | None = None  # "ladder", "reduced" or "passthrough"; None until a live host takes it
    renditions: list[dict] = field(default_factory=list)


def stream_state(channel: Channel) -> StreamState:
    session = streams.open_session_for(channel)
    if session is None:
        return StreamState("offline")
    return StreamState(streams.stream_status(channel, session), session.mode, public_renditions(session))


def public_renditions(session: StreamSession) -> list[dict]:
    """The renditions viewers can pick, without the encoder's internals (preset, notes, paths).
    A passthrough rendition may not know its size."""
    return [{"name": rendition.get("name"), "width": rendition.get("width"),
             "height": rendition.get("height"), "fps": rendition.get("fps"),
             "kbps": rendition.get("video_kbps")}
            for rendition in session.renditions or [] if isinstance(rendition, dict)]
