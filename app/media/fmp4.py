"""Reads the fragmented CMAF MP4 ffmpeg writes to a pipe: the init segment, then timed fragments.

The LL-HLS packager feeds a rung's pipe into a `FragmentStream` and gets back one
`InitSegment` (ftyp+moov, for `EXT-X-MAP`) and then one `Fragment` per moof+mdat (one part),
with its decode time, duration and whether it starts with a sync sample (`INDEPENDENT=YES`).

Box layouts follow ISO/IEC 14496-12 (§4.2 boxes, §8.8 movie fragments). Every size read from
the stream is checked against what is actually there, so malformed input raises `ValueError`
instead of looping or allocating whatever a bogus size asks for.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

# Far above any real fragment (a 1080p keyframe part is well under 2 MiB), far below harm.
MAX_BOX_SIZE = 64 * 1024 * 1024
READ_SIZE = 64 * 1024

# Sample flags (§8.8.3.1): sample_depends_on sits in bits 24-25, the non-sync bit is 16.
SAMPLE_IS_NON_SYNC = 0x00010000
DEPENDS_ON_OTHERS = 1

# tfhd flags (§8.8.7)
TFHD_BASE_DATA_OFFSET = 0x000001
TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002
TFHD_DEFAULT_DURATION = 0x000008
TFHD_DEFAULT_SIZE = 0x000010
TFHD_DEFAULT_FLAGS = 0x000020

# trun flags (§8.8.8)
TRUN_DATA_OFFSET = 0x000001
TRUN_FIRST_SAMPLE_FLAGS = 0x000004
TRUN_SAMPLE_DURATION = 0x000100
TRUN_SAMPLE_SIZE = 0x000200
TRUN_SAMPLE_FLAGS = 0x000400
TRUN_SAMPLE_CTO = 0x000800

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


# --- boxes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    """One complete box: its four-character type and all its bytes, header included."""

    type: str
    data: bytes
    header_size: int

    @property
    def payload(self) -> memoryview:
        return memoryview(self.data)[self.header_size:]

    @property
    def size(self) -> int:
        return len(self.data)


def _box_type(raw: bytes) -> str:
    return raw.decode("latin-1")


def _parse_header(buf: bytes | bytearray | memoryview, pos: int, end: int
                  ) -> tuple[str, int, int] | None:
    """(type, header size, declared size or 0 for "to the end") of the box at `pos`.

    None when fewer bytes than the header are available; ValueError for impossible sizes.
    """
    if end - pos < 8:
        return None
    size, = _U32.unpack_from(buf, pos)
    box_type = _box_type(bytes(buf[pos + 4:pos + 8]))
    header = 8
    if size == 1:
        if end - pos < 16:
            return None
        size, = _U64.unpack_from(buf, pos + 8)
        header = 16
        if size < 16:
            raise ValueError(f"box {box_type!r} has a 64-bit size of {size}, "
                             "smaller than its header")
    elif size != 0 and size < 8:
        raise ValueError(f"box {box_type!r} has a size of {size}, smaller than its header")
    return box_type, header, size


class BoxReader:
    """Turns bytes fed in arbitrary chunks into complete top-level boxes.

    A box whose size is 0 runs to the end of the stream: it is returned by `close()`.
    After a `ValueError` the stream is unusable and every later call raises again.
    """

    def __init__(self, max_box_size: int = MAX_BOX_SIZE) -> None:
        self.max_box_size = max_box_size
        self._buffer = bytearray()
        self._error: ValueError | None = None
        self._closed = False
        self.offset = 0  # stream offset of the first buffered byte

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a complete box."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Box]:
        self._check_usable()
        self._buffer += chunk
        try:
            return self._take_boxes()
        except ValueError as exc:
            self._error = exc
            raise

    def close(self) -> list[Box]:
        """End of stream: a to-the-end box, if one is open; leftover bytes are an error."""
        self._check_usable()
        self._closed = True
        if not self._buffer:
            return []
        header = _parse_header(self._buffer, 0, len(self._buffer))
        if header is not None and header[2] == 0:
            box_type, header_size, _ = header
            box = Box(box_type, bytes(self._buffer), header_size)
            self.offset += len(self._buffer)
            self._buffer.clear()
            return [box]
        message = (f"stream ends inside a box at offset {self.offset} "
                   f"({len(self._buffer)} bytes left)")
        self._error = ValueError(message)
        raise self._error

    def _check_usable(self) -> None:
        if self._error is not None:
            raise ValueError(f"box stream already failed: {self._error}")
        if self._closed:
            raise ValueError("box stream is closed")

    def _take_boxes(self) -> list[Box]:
        boxes = []
        buf = self._buffer
        pos = 0
        while True:
            header = _parse_header(buf, pos, len(buf))
            if header is None:
                break
            box_type, header_size, size = header
            if not all(0x20 <= ord(c) <= 0x7E for c in box_type):
                raise ValueError(f"not a box at offset {self.offset + pos}: type {box_type!r}")
            if size == 0:
                if len(buf) - pos > self.max_box_size:
                    raise ValueError(f"box {box_type!r} runs to the end of the stream and "
                                     f"exceeds {self.max_box_size} bytes")
                break
            if size > self.max_box_size:
                raise ValueError(f"box {box_type!r} at offset {self.offset + pos} declares "
                                 f"{size} bytes, more than the {self.max_box_size} allowed")
            if len(buf) - pos < size:
                break
            boxes.append(Box(box_type, bytes(buf[pos:pos + size]), header_size))
            pos += size
        if pos:
            del buf[:pos]
            self.offset += pos
        return boxes


def iter_boxes(data: bytes | memoryview, start: int = 0, end: int | None = None
               ) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end], all bounds checked."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        header = _parse_header(data, pos, end)
        if header is None:
            raise ValueError(f"truncated box header at offset {pos}")
        box_type, header_size, size = header
        if size == 0:
            size = end - pos
        if size > end - pos:
            raise ValueError(f"box {box_type!r} at offset {pos} declares {size} bytes, "
                             f"but only {end - pos} remain in its parent")
        yield box_type, pos + header_size, pos + size
        pos += size


def _children(data: bytes | memoryview, start: int, end: int) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for box_type, payload_start, payload_end in iter_boxes(data, start, end):
        found.setdefault(box_type, []).append((payload_start, payload_end))
    return found


def _one(children: dict[str, list[tuple[int, int]]], box_type: str, parent: str) -> tuple[int, int]:
    spans = children.get(box_type)
    if not spans:
        raise ValueError(f"{parent} has no {box_type!r} box")
    return spans[0]


class _Fields:
    """Sequential big-endian reads within one box payload, never past its end."""

    def __init__(self, data: bytes | memoryview, start: int, end: int, box: str) -> None:
        self.data, self.pos, self.end, self.box = data, start, end, box

    def need(self, count: int) -> None:
        if self.end - self.pos < count:
            raise ValueError(f"{self.box!r} box is truncated")

    def u8(self) -> int:
        self.need(1)
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        self.need(2)
        value: int
        value, = struct.unpack_from(">H", self.data, self.pos)
        self.pos += 2
        return value

    def u32(self) -> int:
        self.need(4)
        value: int
        value, = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return value

    def u64(self) -> int:
        self.need(8)
        value: int
        value, = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return value

    def skip(self, count: int) -> None:
        self.need(count)
        self.pos += count

    def full_box(self) -> tuple[int, int]:
        """(version, flags) of a FullBox."""
        word = self.u32()
        return word >> 24, word & 0xFFFFFF

    @property
    def remaining(self) -> int:
        return self.end - self.pos


# --- init segment --------------------------------------------------------------------------

@dataclass(frozen=True)
class Track:
    """What the init segment says about one track."""

    track_id: int
    handler: str                  # 'vide', 'soun', ...
    timescale: int                # mdhd ticks per second
    sample_entry: str             # 'avc1', 'mp4a', ...
    codec: str                    # RFC 6381 string when known ('avc1.64001f', 'mp4a.40.2')
    width: int = 0
    height: int = 0
    default_sample_duration: int = 0  # from trex; 0 when the init has none
    default_sample_size: int = 0
    default_sample_flags: int = 0

    @property
    def is_video(self) -> bool:
        return self.handler == "vide"


@dataclass(frozen=True)
class InitSegment:
    """ftyp + moov (and anything between them): the bytes of `EXT-X-MAP`."""

    data: bytes
    tracks: tuple[Track, ...]

    def track(self, track_id: int) -> Track:
        for track in self.tracks:
            if track.track_id == track_id:
                return track
        raise ValueError(f"no track {track_id} in the init segment")

    @property
    def timescales(self) -> dict[int, int]:
        return {track.track_id: track.timescale for track in self.tracks}

    @property
    def primary_track(self) -> Track:
        """The track that times parts: the video track when there is one."""
        return next((t for t in self.tracks if t.is_video), self.tracks[0])

    @property
    def codecs(self) -> str:
        """The CODECS attribute value for a variant carrying these tracks."""
        return ",".join(track.codec for track in self.tracks)


def parse_init(data: bytes) -> InitSegment:
    """Parses an init segment (top-level boxes including exactly one moov)."""
    top = _children(data, 0, len(data))
    moov = _one(top, "moov", "init segment")
    moov_children = _children(data, *moov)
    trex = {}
    for mvex in moov_children.get("mvex", []):
        for start, end in _children(data, *mvex).get("trex", []):
            fields = _Fields(data, start, end, "trex")
            fields.full_box()
            track_id = fields.u32()
            fields.u32()  # default_sample_description_index
            trex[track_id] = (fields.u32(), fields.u32(), fields.u32())
    tracks = []
    for trak in moov_children.get("trak", []):
        track = _parse_trak(data, trak)
        duration, size, flags = trex.get(track.track_id, (0, 0, 0))
        tracks.append(replace(track, default_sample_duration=duration,
                              default_sample_size=size, default_sample_flags=flags))
    if not tracks:
        raise ValueError("moov has no tracks")
    ids = [track.track_id for track in tracks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"moov repeats a track id: {ids}")
    return InitSegment(data=data, tracks=tuple(tracks))


def _parse_trak(data: bytes, trak: tuple[int, int]) -> Track:
    children = _children(data, *trak)
    fields = _Fields(data, *_one(children, "tkhd", "trak"), "tkhd")
    version, _ = fields.full_box()
    fields.skip(16 if version == 1 else 8)  # creation and modification times
    track_id = fields.u32()
    mdia = _children(data, *_one(children, "mdia", "trak"))

    fields = _Fields(data, *_one(mdia, "mdhd", "mdia"), "mdhd")
    version, _ = fields.full_box()
    fields.skip(16 if version == 1 else 8)
    timescale = fields.u32()
    if timescale == 0:
        raise ValueError(f"track {track_id} has a timescale of 0")

    fields = _Fields(data, *_one(mdia, "hdlr", "mdia"), "hdlr")
    fields.full_box()
    fields.u32()  # pre_defined
    fields.need(4)
    handler = _box_type(bytes(data[fields.pos:fields.pos + 4]))

    minf = _children(data, *_one(mdia, "minf", "mdia"))
    stbl = _children(data, *_one(minf, "stbl", "minf"))
    fields = _Fields(data, *_one(stbl, "stsd", "stbl"), "stsd")
    fields.full_box()
    if fields.u32() < 1:
        raise ValueError(f"track {track_id} has no sample description")
    entry = next(iter_boxes(data, fields.pos, fields.end), None)
    if entry is None:
        raise ValueError(f"track {track_id}: 'stsd' box is truncated")
    entry_type, entry_start, entry_end = entry
    codec, width, height = _describe_sample_entry(data, entry_type, entry_start, entry_end)
    return Track(track_id=track_id, handler=handler, timescale=timescale,
                 sample_entry=entry_type, codec=codec, width=width, height=height)


_VISUAL_SAMPLE_ENTRY_SIZE = 78  # SampleEntry (8) + VisualSampleEntry fields (70)
_AUDIO_SAMPLE_ENTRY_SIZE = 28   # SampleEntry (8) + AudioSampleEntry fields (20)


def _describe_sample_entry(data: bytes, entry: str, start: int, end: int) -> tuple[str, int, int]:
    """(codec string, width, height); the codec falls back to the sample entry's type."""
    if entry in ("avc1", "avc3", "hvc1", "hev1", "av01", "vp09"):
        fields = _Fields(data, start, end, entry)
        fields.skip(24)
        width, height = fields.u16(), fields.u16()
        codec = entry
        if entry in ("avc1", "avc3") and end - start >= _VISUAL_SAMPLE_ENTRY_SIZE:
            inner = _children(data, start + _VISUAL_SAMPLE_ENTRY_SIZE, end)
            if "avcC" in inner:
                fields = _Fields(data, *inner["avcC"][0], "avcC")
                fields.u8()  # configurationVersion
                profile, compatibility, level = fields.u8(), fields.u8(), fields.u8()
                codec = f"{entry}.{profile:02x}{compatibility:02x}{level:02x}"
        return codec, width, height
    if entry == "mp4a" and end - start >= _AUDIO_SAMPLE_ENTRY_SIZE:
        inner = _children(data, start + _AUDIO_SAMPLE_ENTRY_SIZE, end)
        if "esds" in inner:
            return _mp4a_codec(data, *inner["esds"][0]), 0, 0
        return "mp4a", 0, 0
    if entry == "Opus":
        return "opus", 0, 0
    return entry, 0, 0


def _mp4a_codec(data: bytes, start: int, end: int) -> str:
    """'mp4a.<objectTypeIndication>[.<audioObjectType>]' from an esds box (ISO 14496-1 §7.2.6)."""
    fields = _Fields(data, start, end, "esds")
    fields.full_box()

    def descriptor() -> tuple[int, int]:
        tag = fields.u8()
        length = 0
        for _ in range(4):
            byte = fields.u8()
            length = (length << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        return tag, length

    tag, _ = descriptor()
    if tag != 0x03:
        return "mp4a"
    fields.u16()  # ES_ID
    es_flags = fields.u8()
    if es_flags & 0x80:
        fields.u16()
    if es_flags & 0x40:
        fields.skip(fields.u8())
    if es_flags & 0x20:
        fields.u16()
    tag, _ = descriptor()
    if tag != 0x04:
        return "mp4a"
    object_type = fields.u8()
    fields.skip(12)  # streamType, bufferSizeDB, maxBitrate, avgBitrate
    if object_type != 0x40 or fields.remaining < 3:
        return f"mp4a.{object_type:02x}"
    tag, _ = descriptor()
    if tag != 0x05:
        return f"mp4a.{object_type:02x}"
    first = fields.u8()
    audio_object_type = first >> 3
    if audio_object_type == 31:
        audio_object_type = 32 + (((first & 0x07) << 3) | (fields.u8() >> 5))
    return f"mp4a.40.{audio_object_type}"


# --- fragments -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TrackFragment:
    """One track's samples in a fragment (all its traf/trun boxes together)."""

    track_id: int
    timescale: int
    base_media_decode_time: int  # tfdt, in timescale ticks
    sample_count: int
    duration_ticks: int
    first_sample_flags: int

    @property
    def independent(self) -> bool:
        """The first sample is a sync sample, so a player can start decoding here."""
        flags = self.first_sample_flags
        return (self.sample_count > 0 and not flags & SAMPLE_IS_NON_SYNC
                and (flags >> 24) & 0x3 != DEPENDS_ON_OTHERS)

    @property
    def start(self) -> float:
        return self.base_media_decode_time / self.timescale

    @property
    def duration(self) -> float:
        return self.duration_ticks / self.timescale

    @property
    def end_decode_time(self) -> int:
        return self.base_media_decode_time + self.duration_ticks


@dataclass(frozen=True)
class Fragment:
    """One moof + mdat (with any styp/prft/emsg just before them): one LL-HLS part."""

    data: bytes
    sequence_number: int
    tracks: tuple[TrackFragment, ...]
    primary_track_id: int

    @property
    def primary(self) -> TrackFragment:
        """The track that times the part: the video track when the rung has one."""
        for track in self.tracks:
            if track.track_id == self.primary_track_id:
                return track
        return self.tracks[0]

    def track(self, track_id: int) -> TrackFragment:
        for track in self.tracks:
            if track.track_id == track_id:
                return track
        raise KeyError(track_id)

    @property
    def decode_time(self) -> int:
        return self.primary.base_media_decode_time

    @property
    def timescale(self) -> int:
        return self.primary.timescale

    @property
    def start(self) -> float:
        return self.primary.start

    @property
    def duration(self) -> float:
        return self.primary.duration

    @property
    def has_primary(self) -> bool:
        """Whether the track that times parts (video, when the rung has it) has samples here: a
        copied source can bring a fragment of audio alone, before its first picture."""
        return any(track.track_id == self.primary_track_id for track in self.tracks)

    @property
    def independent(self) -> bool:
        # A fragment without the video track cannot start a segment: nothing in it decodes a picture.
        return self.has_primary and self.primary.independent


def parse_fragment(moof: Box, init: InitSegment, data: bytes | None = None) -> Fragment:
    """Times the fragment whose moof is `moof`; `data` is its bytes (moof + mdat and prefix)."""
    payload = moof.data
    children = _children(payload, moof.header_size, len(payload))
    fields = _Fields(payload, *_one(children, "mfhd", "moof"), "mfhd")
    fields.full_box()
    sequence_number = fields.u32()
    merged: dict[int, TrackFragment] = {}
    for traf in children.get("traf", []):
        part = _parse_traf(payload, traf, init)
        earlier = merged.get(part.track_id)
        if earlier is None:
            merged[part.track_id] = part
        elif part.base_media_decode_time != earlier.end_decode_time:
            raise ValueError(f"track {part.track_id}: second traf starts at "
                             f"{part.base_media_decode_time}, not {earlier.end_decode_time}")
        else:
            merged[part.track_id] = TrackFragment(
                part.track_id, part.timescale, earlier.base_media_decode_time,
                earlier.sample_count + part.sample_count,
                earlier.duration_ticks + part.duration_ticks,
                earlier.first_sample_flags if earlier.sample_count else part.first_sample_flags)
    if not merged:
        raise ValueError("moof has no traf")
    return Fragment(data=moof.data if data is None else data, sequence_number=sequence_number,
                    tracks=tuple(merged.values()), primary_track_id=init.primary_track.track_id)


def _parse_traf(data: bytes, traf: tuple[int, int], init: InitSegment) -> TrackFragment:
    children = _children(data, *traf)
    fields = _Fields(data, *_one(children, "tfhd", "traf"), "tfhd")
    _, tfhd_flags = fields.full_box()
    track = init.track(fields.u32())
    if tfhd_flags & TFHD_BASE_DATA_OFFSET:
        fields.u64()
    if tfhd_flags & TFHD_SAMPLE_DESCRIPTION_INDEX:
        fields.u32()
    default_duration = track.default_sample_duration
    if tfhd_flags & TFHD_DEFAULT_DURATION:
        default_duration = fields.u32()
    if tfhd_flags & TFHD_DEFAULT_SIZE:
        fields.u32()
    default_flags = fields.u32() if tfhd_flags & TFHD_DEFAULT_FLAGS else track.default_sample_flags

    fields = _Fields(data, *_one(children, "tfdt", "traf"), "tfdt")
    version, _ = fields.full_box()
    base_time = fields.u64() if version == 1 else fields.u32()

    sample_count = duration = 0
    first_flags: int | None = None
    for start, end in children.get("trun", []):
        count, run_duration, run_first_flags = _parse_trun(data, start, end, default_duration,
                                                           default_flags, track.track_id)
        if first_flags is None and count:
            first_flags = run_first_flags
        sample_count += count
        duration += run_duration
    return TrackFragment(track_id=track.track_id, timescale=track.timescale,
                         base_media_decode_time=base_time, sample_count=sample_count,
                         duration_ticks=duration,
                         first_sample_flags=default_flags if first_flags is None else first_flags)


def _parse_trun(data: bytes, start: int, end: int, default_duration: int, default_flags: int,
                track_id: int) -> tuple[int, int, int]:
    """(sample count, total duration in ticks, flags of the first sample) of one trun."""
    fields = _Fields(data, start, end, "trun")
    _, flags = fields.full_box()
    count = fields.u32()
    if flags & TRUN_DATA_OFFSET:
        fields.u32()
    first_flags = fields.u32() if flags & TRUN_FIRST_SAMPLE_FLAGS else None
    per_sample = [bool(flags & bit) for bit in
                  (TRUN_SAMPLE_DURATION, TRUN_SAMPLE_SIZE, TRUN_SAMPLE_FLAGS, TRUN_SAMPLE_CTO)]
    record = 4 * sum(per_sample)
    # Checked before reading, so a bogus count fails at once instead of looping.
    if count * record > fields.remaining:
        raise ValueError(f"trun of track {track_id} declares {count} samples of {record} bytes "
                         f"but holds {fields.remaining} bytes")
    if not per_sample[0]:
        if count and not default_duration:
            raise ValueError(f"track {track_id} has no sample duration (trun, tfhd or trex)")
        duration = count * default_duration
    else:
        duration = 0
        for index in range(count):
            offset = fields.pos + index * record
            duration += _U32.unpack_from(data, offset)[0]
    if first_flags is None:
        if per_sample[2] and count:
            offset = fields.pos + 4 * sum(per_sample[:2])
            first_flags = _U32.unpack_from(data, offset)[0]
        else:
            first_flags = default_flags
    return count, duration, first_flags


# --- the stream ----------------------------------------------------------------------------

StreamItem = InitSegment | Fragment


class FragmentStream:
    """Bytes in, `InitSegment` once and then `Fragment`s out, in stream order.

    Boxes before the moov (ftyp, free...) belong to the init segment; boxes between an mdat
    and the next moof (styp, prft, emsg...) are kept at the front of the next fragment.
    """

    def __init__(self, max_box_size: int = MAX_BOX_SIZE) -> None:
        self._boxes = BoxReader(max_box_size)
        self.init: InitSegment | None = None
        self._pending: list[Box] = []  # boxes of the item being assembled
        self._moof: Box | None = None
        self._error: ValueError | None = None

    def feed(self, chunk: bytes) -> list[StreamItem]:
        """The items `chunk` completes, in order (the InitSegment first, once)."""
        self._check_usable()
        return self._take(lambda: self._boxes.feed(chunk))

    def close(self) -> list[StreamItem]:
        """End of stream: raises ValueError if it stops inside a box or a fragment."""
        self._check_usable()
        items = self._take(self._boxes.close)
        if self._moof is not None:
            self._error = ValueError("stream ends after a moof without its mdat")
        elif self.init is None and self._pending:
            self._error = ValueError("stream ends before the moov")
        if self._error is not None:
            raise self._error
        self._pending = []  # trailing boxes (mfra, free) are not media
        return items

    def _check_usable(self) -> None:
        if self._error is not None:
            raise ValueError(f"fragment stream already failed: {self._error}")

    def _take(self, read_boxes: Callable[[], list[Box]]) -> list[StreamItem]:
        items: list[StreamItem] = []
        try:
            for box in read_boxes():
                item = self._add(box)
                if item is not None:
                    items.append(item)
        except ValueError as exc:
            # Half-assembled state cannot be trusted after this: the stream stays failed.
            self._error = exc
            raise
        return items

    def _add(self, box: Box) -> StreamItem | None:
        if self.init is None:
            if box.type in ("moof", "mdat"):
                raise ValueError(f"{box.type!r} box before the init segment's moov")
            self._pending.append(box)
            if box.type != "moov":
                return None
            self.init = parse_init(b"".join(b.data for b in self._pending))
            self._pending = []
            return self.init
        if box.type == "moov":
            raise ValueError("a second moov box (the init segment changed mid-stream)")
        if box.type == "moof":
            if self._moof is not None:
                raise ValueError("moof box followed by another moof, not its mdat")
            self._moof = box
            self._pending.append(box)
            return None
        if box.type == "mdat":
            if self._moof is None:
                raise ValueError("mdat box without a moof before it")
            self._pending.append(box)
            data = b"".join(b.data for b in self._pending)
            fragment = parse_fragment(self._moof, self.init, data)
            self._moof = None
            self._pending = []
            return fragment
        if self._moof is not None:
            raise ValueError(f"{box.type!r} box between a moof and its mdat")
        self._pending.append(box)
        return None


def read_fragments(pipe: BinaryIO | int, *, read_size: int = READ_SIZE,
                   max_box_size: int = MAX_BOX_SIZE) -> Iterator[StreamItem]:
    """Everything in a pipe (a file object or descriptor), each item as soon as it is complete."""
    stream = FragmentStream(max_box_size)
    read: Callable[[int], bytes]
    if isinstance(pipe, int):
        fd = pipe

        def read(size: int) -> bytes:
            return os.read(fd, size)
    else:
        # read1 returns what one read gives, so a part is handed on without waiting for more.
        read = getattr(pipe, "read1", pipe.read)
    while True:
        chunk = read(read_size)
        if not chunk:
            break
        yield from stream.feed(chunk)
    yield from stream.close()
