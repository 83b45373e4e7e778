"""Builds VODs for tests: the row, its ended session, and small real objects in storage."""
from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

from PIL import Image

from app.extensions import db
from app.models import VOD, ChatMessage, StreamSession, User, utcnow
from app.models.vod import VISIBILITY_PRIVATE, VISIBILITY_PUBLIC, vod_prefix
from app.storage.backends import get_storage

MASTER = (b"#EXTM3U\n#EXT-X-VERSION:7\n"
          b'#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n')
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64  # 16 KB: chunks show it streams
VTT = (b"WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nsprite-0.jpg#xywh=0,0,160,90\n\n"
       b"00:00:05.000 --> 00:00:10.000\nsprite-0.jpg#xywh=160,0,160,90\n")


def jpeg(width: int = 64, height: int = 36, colour=(20, 120, 110)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def ended_session(user: User, *, started_at: datetime | None = None, ended_ago: timedelta = timedelta(hours=1),
                  duration: timedelta = timedelta(minutes=10)) -> StreamSession:
    ended = utcnow() - ended_ago
    session = StreamSession(channel=user.channel, internal_name=f"t{uuid.uuid4().hex[:12]}",
                            status="ended", started_at=started_at or ended - duration, ended_at=ended)
    db.session.add(session)
    db.session.commit()
    return session


def make_vod(user: User, *, title: str = "", public: bool = False, duration: float = 4000.0,
             started_at: datetime | None = None, objects: bool = True, created_at: datetime | None = None) -> VOD:
    """A VOD of `user`'s channel with its master playlist, MP4, poster and seek previews stored."""
    session = ended_session(user, started_at=started_at)
    prefix = vod_prefix(session.id)
    vod = VOD(channel_id=user.channel.id, session_id=session.id, title=title,
              object_key=prefix + "master.m3u8", storage_prefix=prefix, duration_seconds=duration,
              download_key=prefix + "video.mp4", thumbnail_key=prefix + "poster.jpg",
              thumbnails_key=prefix + "thumbnails.vtt", size_bytes=len(MP4),
              started_at=session.started_at,
              visibility=VISIBILITY_PUBLIC if public else VISIBILITY_PRIVATE,
              published_at=utcnow() if public else None)
    if created_at is not None:
        vod.created_at = created_at
    db.session.add(vod)
    db.session.commit()
    if objects:
        storage = get_storage()
        storage.put_bytes(prefix + "master.m3u8", MASTER)
        storage.put_bytes(prefix + "video.mp4", MP4)
        storage.put_bytes(prefix + "poster.jpg", jpeg())
        storage.put_bytes(prefix + "sprite-0.jpg", jpeg(320, 90))
        storage.put_bytes(prefix + "thumbnails.vtt", VTT)
    return vod


def say(vod: VOD, user: User, text: str, at: datetime, *, state: str = "visible") -> ChatMessage:
    """A chat message sent during `vod`'s broadcast at `at`."""
    message = ChatMessage(channel_id=vod.channel_id, user_id=user.id, session_id=vod.session_id,
                          text=text, state=state, created_at=at)
    db.session.add(message)
    db.session.commit()
    return message
