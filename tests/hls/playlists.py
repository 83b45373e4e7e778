"""LL-HLS media playlists in the packager's format, and a stand-in packager that writes (and, with a
mirror, stores) and announces them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis

from app.live.state import announce_channel as channel
from app.live.state import announcement
from app.storage.atomic import write_atomic
from app.storage.mirror import Mirror

START = datetime(2026, 11, 25, 6, 0, 0, tzinfo=UTC)


def live_playlist(*, first_msn: int = 0, segments: int = 3, parts: int = 0, parts_per_segment: int = 4,
                  part_duration: float = 0.25, target: int = 1, skip_until: float | None = 6.0,
                  part_segments: int = 2, ended: bool = False, version: int = 9) -> str:
    """`segments` complete segments from `first_msn`, then `parts` parts of the next one.

    Segments last parts_per_segment × part_duration; the last `part_segments` complete ones
    list their parts, as the packager does; every segment carries its PROGRAM-DATE-TIME.
    """
    control = f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * part_duration:.3f}"
    if skip_until is not None:
        control += f",CAN-SKIP-UNTIL={skip_until:.1f}"
    control += f",HOLD-BACK={3 * target:.1f}"
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{target}", control,
             f"#EXT-X-PART-INF:PART-TARGET={part_duration:.3f}", f"#EXT-X-MEDIA-SEQUENCE:{first_msn}",
             '#EXT-X-MAP:URI="init.mp4"']
    seconds = parts_per_segment * part_duration
    for offset in range(segments + (1 if parts else 0)):
        msn = first_msn + offset
        complete = offset < segments
        started = START + timedelta(seconds=msn * seconds)
        lines.append("#EXT-X-PROGRAM-DATE-TIME:" + started.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        listed = parts_per_segment if complete else parts
        if not complete or offset >= segments - part_segments:
            for index in range(listed):
                lines.append(f'#EXT-X-PART:DURATION={part_duration:.3f},URI="p{msn}.{index}.m4s"'
                             + (",INDEPENDENT=YES" if index == 0 else ""))
        if complete:
            lines += [f"#EXTINF:{seconds:.3f},", f"s{msn}.m4s"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    else:
        next_msn, next_part = (first_msn + segments, parts) if parts else (first_msn + segments, 0)
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p{next_msn}.{next_part}.m4s"')
    return "\n".join(lines) + "\n"


class FakePackager:
    """Writes one rung's playlist (and part files) atomically, then announces it like app.media.llhls.

    With a `mirror` (app.storage.mirror.Mirror, STORAGE_BACKEND=s3) each file is also stored
    before anything is announced, as the real packager's queue does.
    """

    def __init__(self, hls_root: Path, name: str, rung: str = "720p", redis_url: str | None = None,
                 mirror: Mirror | None = None):
        self.dir = hls_root / name / rung
        self.name, self.rung = name, rung
        self.redis = Redis.from_url(redis_url) if redis_url else None
        self.mirror = mirror

    def write(self, text: str, *, announce: tuple[int, int] | None = None) -> None:
        write_atomic(self.dir / "index.m3u8", text.encode())
        if self.mirror is not None:
            self.mirror.put(self.dir / "index.m3u8", text.encode())
        if announce is not None and self.redis is not None:
            self.redis.publish(channel(self.name), announcement(self.rung, *announce))

    def write_part(self, msn: int, index: int, data: bytes = b"part-bytes") -> Path:
        path = self.dir / f"p{msn}.{index}.m4s"
        write_atomic(path, data)
        if self.mirror is not None:
            self.mirror.put(path, data)
        return path

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()
