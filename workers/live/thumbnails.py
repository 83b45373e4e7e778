"""The channel's live thumbnail: the transcoding ffmpeg's JPEG output, or, for a passthrough
session (nothing decoded), one frame decoded from the newest segment every THUMBNAIL_SECONDS."""
from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from pathlib import Path

from app.extensions import db
from app.media.ffmpeg_args import PLAYLIST_NAME, THUMBNAIL_SECONDS, snapshot_args
from app.media.playlist import parse_media
from app.models import Channel
from app.storage.backends import get_storage

log = logging.getLogger(__name__)


FIRST_SNAPSHOT_AFTER = 5.0  # seconds after a passthrough run starts


def thumbnail_key(channel_id: int) -> str:
    return f"thumbnails/{channel_id}/live.jpg"


def newest_segment(rung_dir: Path) -> tuple[Path, Path] | None:
    """(init section, newest whole segment) listed by the rung's live playlist."""
    try:
        listed = parse_media((rung_dir / PLAYLIST_NAME).read_text()).segments
    except OSError:
        return None
    newest = next((segment for segment in reversed(listed) if segment.uri is not None), None)
    if newest is None or newest.uri is None or not newest.map:
        return None
    return rung_dir / newest.map, rung_dir / newest.uri


class LiveThumbnail:
    """Publishes the session's picture to storage and points the channel at it."""

    def __init__(self, channel_id: int, jpeg_path: Path) -> None:
        self.channel_id = channel_id
        self.jpeg_path = jpeg_path
        self.seen: tuple[int, int] | None = None
        self.digest: bytes | None = None
        self.snapped_at = 0.0

    def from_encoder(self) -> None:
        """Take the JPEG the transcoding ffmpeg rewrites in place, once it is whole and new."""
        try:
            st = self.jpeg_path.stat()
        except FileNotFoundError:
            return
        seen = (st.st_mtime_ns, st.st_size)
        if seen == self.seen:
            return
        data = self.jpeg_path.read_bytes()
        if not (data.startswith(b"\xff\xd8") and data.rstrip(b"\0").endswith(b"\xff\xd9")):
            return
        self.seen = seen
        self.publish(data)

    def from_segment(self, rung_dir: Path) -> None:
        """Passthrough: every THUMBNAIL_SECONDS, decode one frame of the newest segment (it starts
        with a keyframe), a few tens of milliseconds of CPU."""
        now = time.monotonic()
        if not self.snapped_at:
            # The first picture a few seconds in: when many streams start at once, their first
            # segments matter more than their thumbnails.
            self.snapped_at = now - THUMBNAIL_SECONDS + FIRST_SNAPSHOT_AFTER
            return
        if now - self.snapped_at < THUMBNAIL_SECONDS:
            return
        found = newest_segment(rung_dir)
        if found is None:
            return
        self.snapped_at = now
        try:
            media = found[0].read_bytes() + found[1].read_bytes()
            result = subprocess.run(snapshot_args(), input=media, capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as error:
            log.warning("channel %s: no thumbnail from the live segment (%s)", self.channel_id, error)
            return
        if result.returncode == 0 and result.stdout.startswith(b"\xff\xd8"):
            self.publish(result.stdout)

    def publish(self, data: bytes) -> None:
        digest = hashlib.sha256(data).digest()
        if digest == self.digest:
            return  # the once-a-second padding copy of the same picture
        self.digest = digest
        key = thumbnail_key(self.channel_id)
        get_storage().put_bytes(key, data, "image/jpeg")
        channel = db.session.get(Channel, self.channel_id)
        if channel is not None and channel.thumbnail_key != key:
            channel.thumbnail_key = key
            db.session.commit()
