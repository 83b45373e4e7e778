"""The fragmented MP4 reader: hand-built boxes for every rule, then the real ffmpeg's output."""
from __future__ import annotations

import io
import os
import struct
import subprocess

import pytest

from app.media import fmp4
from app.media.fmp4 import BoxReader, Fragment, FragmentStream, InitSegment
from tests.e2e.conftest import require_tool

NON_SYNC = 0x01010000  # depends on others, non-sync: what ffmpeg writes for P-frames
SYNC = 0x02000000      # depends on no other sample: ffmpeg's first_sample_flags on a keyframe


# --- builders ------------------------------------------------------------------------------

def box(box_type: str, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), box_type.encode()) + payload


def large_box(box_type: str, payload: bytes) -> bytes:
    return struct.pack(">I4sQ", 1, box_type.encode(), 16 + len(payload)) + payload


def full_box(box_type: str, version: int, flags: int, *parts: bytes) -> bytes:
    return box(box_type, struct.pack(">I", version << 24 | flags), *parts)


def u32(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def avc1(width: int = 640, height: int = 360, profile: int = 0x64, level: int = 0x1F) -> bytes:
    fields = (bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", width, height)
              + u32(0x00480000, 0x00480000, 0) + struct.pack(">H", 1) + bytes(32)
              + struct.pack(">Hh", 0x18, -1))
    assert len(fields) == 78  # SampleEntry + VisualSampleEntry fields, before child boxes
    return box("avc1", fields, box("avcC", bytes([1, profile, 0, level, 0xFF, 0xE0, 0])))


def mp4a() -> bytes:
    fields = bytes(6) + struct.pack(">H", 1) + bytes(8) + struct.pack(">HHHHI", 2, 16, 0, 0,
                                                                      48000 << 16)
    decoder_specific = bytes([0x05, 2, 0x11, 0x90])  # AAC LC (object type 2), 48 kHz, stereo
    decoder_config = bytes([0x04, 13 + len(decoder_specific), 0x40, 0x15, 0, 0, 0]) + u32(0, 0)
    es = bytes([0x03, 3 + len(decoder_config) + len(decoder_specific) + 3, 0, 1, 0])
    esds = full_box("esds", 0, 0, es, decoder_config, decoder_specific, bytes([0x06, 1, 2]))
    return box("mp4a", fields, esds)


def trak(track_id: int, handler: str, timescale: int, entry: bytes, *, mdhd_version: int = 0
         ) -> bytes:
    tkhd = full_box("tkhd", 0, 3, u32(0, 0, track_id, 0, 0), bytes(60))
    if mdhd_version == 1:
        mdhd = full_box("mdhd", 1, 0, struct.pack(">QQIQ", 0, 0, timescale, 0), bytes(4))
    else:
        mdhd = full_box("mdhd", 0, 0, u32(0, 0, timescale, 0), bytes(4))
    hdlr = full_box("hdlr", 0, 0, u32(0), handler.encode(), bytes(12), b"\0")
    stsd = full_box("stsd", 0, 0, u32(1), entry)
    stbl = box("stbl", stsd, full_box("stts", 0, 0, u32(0)))
    return box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", stbl)))


def trex(track_id: int, duration: int = 0, flags: int = 0) -> bytes:
    return full_box("trex", 0, 0, u32(track_id, 1, duration, 0, flags))


def init_segment(*, video_trex_duration: int = 0, video_trex_flags: int = 0,
                 audio: bool = False, mdhd_version: int = 0) -> bytes:
    traks = [trak(1, "vide", 15360, avc1(), mdhd_version=mdhd_version)]
    trexes = [trex(1, video_trex_duration, video_trex_flags)]
    if audio:
        traks.append(trak(2, "soun", 48000, mp4a()))
        trexes.append(trex(2, 1024))
    mvhd = full_box("mvhd", 0, 0, bytes(96))
    return (box("ftyp", b"iso6", u32(0), b"iso6cmfc")
            + box("moov", mvhd, *traks, box("mvex", *trexes)))


def trun(count: int, *, durations: list[int] | None = None, flags: list[int] | None = None,
         first_flags: int | None = None) -> bytes:
    trun_flags = fmp4.TRUN_DATA_OFFSET | fmp4.TRUN_SAMPLE_SIZE
    head = [count, 0]
    if first_flags is not None:
        trun_flags |= fmp4.TRUN_FIRST_SAMPLE_FLAGS
        head.append(first_flags)
    if durations is not None:
        trun_flags |= fmp4.TRUN_SAMPLE_DURATION
    if flags is not None:
        trun_flags |= fmp4.TRUN_SAMPLE_FLAGS
    samples = b""
    for index in range(count):
        if durations is not None:
            samples += u32(durations[index])
        samples += u32(100)  # sample size
        if flags is not None:
            samples += u32(flags[index])
    return full_box("trun", 0, trun_flags, u32(*head), samples)


def traf(track_id: int, base_time: int, *runs: bytes, tfdt_version: int = 0,
         default_duration: int | None = None, default_flags: int | None = None) -> bytes:
    tfhd_flags = 0x020000  # default-base-is-moof, as ffmpeg writes
    fields = [track_id]
    if default_duration is not None:
        tfhd_flags |= fmp4.TFHD_DEFAULT_DURATION
        fields.append(default_duration)
    if default_flags is not None:
        tfhd_flags |= fmp4.TFHD_DEFAULT_FLAGS
        fields.append(default_flags)
    tfdt = full_box("tfdt", tfdt_version, 0,
                    struct.pack(">Q" if tfdt_version == 1 else ">I", base_time))
    return box("traf", full_box("tfhd", 0, tfhd_flags, u32(*fields)), tfdt, *runs)


def moof(sequence: int, *trafs: bytes) -> bytes:
    return box("moof", full_box("mfhd", 0, 0, u32(sequence)), *trafs)


def mdat(size: int = 10) -> bytes:
    return box("mdat", bytes(size))


def video_fragment(sequence: int, base_time: int, count: int = 10, *, keyframe: bool = False
                   ) -> bytes:
    """What ffmpeg writes: tfhd default duration and non-sync flags, first flags on keyframes."""
    run = trun(count, first_flags=SYNC if keyframe else None)
    return moof(sequence, traf(1, base_time, run, default_duration=512,
                               default_flags=NON_SYNC)) + mdat(100 * count)


def small_stream() -> bytes:
    return (init_segment() + video_fragment(1, 0, keyframe=True) + video_fragment(2, 5120)
            + box("styp", b"msdh", u32(0)) + video_fragment(3, 10240, 5))


def only_fragment(data: bytes, init: bytes | None = None) -> Fragment:
    stream = FragmentStream()
    stream.feed(init if init is not None else init_segment())
    items = stream.feed(data) + stream.close()
    assert len(items) == 1 and isinstance(items[0], Fragment)
    return items[0]


def summary(items: list) -> list:
    return [(type(item).__name__, item.data, getattr(item, "decode_time", None),
             getattr(item, "duration", None), getattr(item, "independent", None))
            for item in items]


# --- box reading ---------------------------------------------------------------------------

def test_whole_stream_in_one_read():
    data = small_stream()
    stream = FragmentStream()
    items = stream.feed(data) + stream.close()
    assert isinstance(items[0], InitSegment) and items[0] is stream.init
    assert all(isinstance(item, Fragment) for item in items[1:])
    assert b"".join(item.data for item in items) == data
    assert [f.sequence_number for f in items[1:]] == [1, 2, 3]
    assert [f.decode_time for f in items[1:]] == [0, 5120, 10240]
    assert [round(f.duration, 6) for f in items[1:]] == [0.333333, 0.333333, 0.166667]
    assert [f.independent for f in items[1:]] == [True, False, False]
    assert items[3].data.startswith(box("styp", b"msdh", u32(0)))  # kept with its fragment


def test_split_reads_at_every_byte_boundary():
    data = small_stream()
    whole = FragmentStream()
    expected = summary(whole.feed(data) + whole.close())
    for cut in range(len(data) + 1):
        stream = FragmentStream()
        items = stream.feed(data[:cut]) + stream.feed(data[cut:]) + stream.close()
        assert summary(items) == expected, f"split at byte {cut}"


def test_one_byte_at_a_time():
    data = small_stream()
    stream = FragmentStream()
    items = []
    for index in range(len(data)):
        items += stream.feed(data[index:index + 1])
    items += stream.close()
    whole = FragmentStream()
    assert summary(items) == summary(whole.feed(data) + whole.close())


def test_box_reader_keeps_an_incomplete_box_until_the_rest_arrives():
    reader = BoxReader()
    data = box("free", b"abc") + box("skip", b"defgh")
    assert [b.type for b in reader.feed(data[:13])] == ["free"]
    assert reader.pending == 2 and reader.offset == 11
    boxes = reader.feed(data[13:])
    assert [(b.type, bytes(b.payload)) for b in boxes] == [("skip", b"defgh")]
    assert reader.close() == []


def test_largesize_boxes():
    reader = BoxReader()
    data = large_box("free", b"payload") + box("skip")
    boxes = reader.feed(data[:20]) + reader.feed(data[20:])
    assert [(b.type, b.header_size, b.size, bytes(b.payload)) for b in boxes] == [
        ("free", 16, 23, b"payload"), ("skip", 8, 8, b"")]
    # A 64-bit mdat, as a muxer writes for a big fragment, still makes a fragment.
    moof_box = moof(1, traf(1, 0, trun(2, first_flags=SYNC), default_duration=512))
    fragment = only_fragment(moof_box + large_box("mdat", bytes(200)))
    assert fragment.data == moof_box + large_box("mdat", bytes(200))
    assert fragment.primary.sample_count == 2


def test_a_box_of_size_zero_runs_to_the_end_of_the_stream():
    reader = BoxReader()
    assert reader.feed(box("free") + struct.pack(">I4s", 0, b"mdat") + b"xyz")[0].type == "free"
    assert reader.feed(b"more") == []
    last, = reader.close()
    assert (last.type, bytes(last.payload)) == ("mdat", b"xyzmore")
    # ...and ends the last fragment.
    moof_box = moof(1, traf(1, 0, trun(2, first_flags=SYNC), default_duration=512))
    fragment = only_fragment(moof_box + struct.pack(">I4s", 0, b"mdat") + bytes(50))
    assert fragment.duration == pytest.approx(1024 / 15360)


# --- timing --------------------------------------------------------------------------------

@pytest.mark.parametrize("trex_duration, tfhd_duration, sample_durations, expected", [
    (512, None, None, 3 * 512),                     # trex default
    (512, 256, None, 3 * 256),                      # tfhd default beats trex
    (512, 256, [500, 510, 520], 1530),              # per-sample beats both
    (0, None, [100, 200, 300], 600),                # per-sample with no default anywhere
])
def test_sample_durations(trex_duration, tfhd_duration, sample_durations, expected):
    init = init_segment(video_trex_duration=trex_duration)
    data = moof(1, traf(1, 0, trun(3, durations=sample_durations, first_flags=SYNC),
                        default_duration=tfhd_duration)) + mdat()
    fragment = only_fragment(data, init)
    assert fragment.primary.duration_ticks == expected
    assert fragment.duration == pytest.approx(expected / 15360)
    assert fragment.primary.sample_count == 3


def test_several_truns_and_trafs_of_a_track_add_up():
    data = moof(1, traf(1, 0, trun(2, first_flags=SYNC), trun(3), default_duration=512,
                        default_flags=NON_SYNC),
                traf(1, 2560, trun(1), default_duration=100)) + mdat()
    fragment = only_fragment(data)
    assert (fragment.primary.sample_count, fragment.primary.duration_ticks) == (6, 2660)
    assert fragment.independent


def test_tfdt_version_0_and_1():
    v0 = only_fragment(moof(1, traf(1, 0xFFFFFFFF, trun(1), default_duration=512)) + mdat())
    assert v0.decode_time == 0xFFFFFFFF
    big = 15360 * 3600 * 24 * 400  # 400 days: past 32 bits
    v1 = only_fragment(moof(1, traf(1, big, trun(1), tfdt_version=1, default_duration=512))
                       + mdat())
    assert v1.decode_time == big and v1.start == pytest.approx(3600 * 24 * 400)


def test_mdhd_version_1_timescale():
    init = init_segment(mdhd_version=1)
    assert fmp4.parse_init(init).track(1).timescale == 15360


def test_audio_and_video_in_one_fragment_timed_by_the_video():
    init = init_segment(audio=True)
    data = moof(7, traf(1, 5120, trun(10, first_flags=SYNC), default_duration=512),
                traf(2, 16384, trun(16), default_flags=0x02000000)) + mdat()
    fragment = only_fragment(data, init)
    assert fragment.primary.track_id == 1 and fragment.timescale == 15360
    assert fragment.start == pytest.approx(1 / 3) and fragment.duration == pytest.approx(1 / 3)
    audio = fragment.track(2)
    assert (audio.timescale, audio.duration_ticks) == (48000, 16 * 1024)
    assert audio.independent


def test_init_segment_describes_its_tracks():
    init = fmp4.parse_init(init_segment(video_trex_duration=512, video_trex_flags=NON_SYNC,
                                        audio=True))
    video, audio = init.tracks
    assert (video.track_id, video.handler, video.timescale, video.codec) == (
        1, "vide", 15360, "avc1.64001f")
    assert (video.width, video.height, video.default_sample_duration,
            video.default_sample_flags) == (640, 360, 512, NON_SYNC)
    assert (audio.track_id, audio.handler, audio.timescale, audio.codec) == (
        2, "soun", 48000, "mp4a.40.2")
    assert init.codecs == "avc1.64001f,mp4a.40.2"
    assert init.timescales == {1: 15360, 2: 48000}
    assert init.primary_track is video
    with pytest.raises(ValueError, match="no track 3"):
        init.track(3)


# --- sync samples --------------------------------------------------------------------------

@pytest.mark.parametrize("trex_flags, tfhd_flags, first_flags, sample_flags, independent", [
    (0, NON_SYNC, SYNC, None, True),                 # ffmpeg's keyframe fragment
    (0, NON_SYNC, None, None, False),                # ffmpeg's other fragments
    (0, None, None, [SYNC, NON_SYNC], True),         # per-sample flags
    (0, None, None, [NON_SYNC, SYNC], False),        # a later sync sample does not count
    (NON_SYNC, None, None, None, False),             # trex default
    (SYNC, None, None, None, True),
    (0, SYNC, None, None, True),                     # tfhd default beats trex
    (0, 0x00010000, None, None, False),              # the non-sync bit alone
    (0, 0x01000000, None, None, False),              # depends on others, bit unset
    (0, 0, None, None, True),                        # nothing says otherwise
])
def test_independent_from_sample_flags(trex_flags, tfhd_flags, first_flags, sample_flags,
                                       independent):
    init = init_segment(video_trex_duration=512, video_trex_flags=trex_flags)
    run = trun(2, first_flags=first_flags, flags=sample_flags)
    fragment = only_fragment(moof(1, traf(1, 0, run, default_flags=tfhd_flags)) + mdat(), init)
    assert fragment.independent is independent


def test_an_empty_fragment_is_not_independent():
    fragment = only_fragment(moof(1, traf(1, 0, trun(0), default_flags=SYNC)) + mdat(0))
    assert (fragment.duration, fragment.independent) == (0, False)


# --- malformed input -----------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (struct.pack(">I4s", 4, b"moof"), "smaller than its header"),
    (struct.pack(">I4sQ", 1, b"mdat", 15), "64-bit size of 15"),
    (struct.pack(">I4s", 0xFFFFFFF0, b"mdat"), "more than the"),
    (struct.pack(">I4sQ", 1, b"mdat", 2**63), "more than the"),
    (b"\x00\x00\x00\x10\x00\x01\x02\x03", "not a box"),
], ids=["size-below-header", "largesize-below-header", "huge-size", "huge-largesize", "garbage"])
def test_impossible_box_sizes_fail_at_once(data, message):
    reader = BoxReader()
    with pytest.raises(ValueError, match=message):
        reader.feed(data)
    with pytest.raises(ValueError, match="already failed"):  # and stay failed
        reader.feed(box("free"))


def test_the_size_limit_is_checked_before_buffering():
    reader = BoxReader(max_box_size=1000)
    with pytest.raises(ValueError, match="1001 bytes"):
        reader.feed(struct.pack(">I4s", 1001, b"mdat"))
    reader = BoxReader(max_box_size=1000)
    reader.feed(struct.pack(">I4s", 0, b"mdat"))
    with pytest.raises(ValueError, match="exceeds 1000"):
        reader.feed(bytes(1000))


def test_a_stream_that_stops_inside_a_box():
    reader = BoxReader()
    reader.feed(box("free", b"abcdef")[:-1])
    with pytest.raises(ValueError, match="ends inside a box at offset 0"):
        reader.close()


def bad_fragment(*trafs: bytes) -> bytes:
    return moof(1, *trafs) + mdat()


@pytest.mark.parametrize("data, message", [
    # a child box larger than its parent
    (box("moof", full_box("mfhd", 0, 0, u32(1)), struct.pack(">I4s", 500, b"traf")) + mdat(),
     "only 8 remain"),
    # a trun claiming four billion per-sample records
    (bad_fragment(traf(1, 0, full_box("trun", 0, fmp4.TRUN_SAMPLE_DURATION, u32(0xFFFFFFFF)))),
     "declares 4294967295 samples"),
    (bad_fragment(traf(1, 0, trun(3))), "no sample duration"),
    (bad_fragment(traf(9, 0, trun(1), default_duration=1)), "no track 9"),
    (bad_fragment(box("traf", full_box("tfhd", 0, 0, u32(1)), trun(1))), "no 'tfdt'"),
    (bad_fragment(box("traf", full_box("tfhd", 0, fmp4.TFHD_DEFAULT_DURATION, u32(1)))),
     "'tfhd' box is truncated"),
    (box("moof", full_box("mfhd", 0, 0, u32(1))) + mdat(), "moof has no traf"),
    (box("moof", traf(1, 0, trun(1), default_duration=1)) + mdat(), "no 'mfhd'"),
], ids=["child-larger-than-parent", "huge-sample-count", "no-duration", "unknown-track",
        "no-tfdt", "truncated-tfhd", "no-traf", "no-mfhd"])
def test_malformed_fragments(data, message):
    stream = FragmentStream()
    stream.feed(init_segment())
    with pytest.raises(ValueError, match=message):
        stream.feed(data)
    with pytest.raises(ValueError, match="already failed"):  # and stays failed
        stream.feed(video_fragment(2, 0, keyframe=True))


@pytest.mark.parametrize("data, message", [
    (video_fragment(1, 0), "before the init segment"),
    (init_segment() + mdat(), "mdat box without a moof"),
    (init_segment() + moof(1) + moof(2), "followed by another moof"),
    (init_segment() + moof(1) + box("free") + mdat(), "between a moof and its mdat"),
    (init_segment() + init_segment(), "second moov"),
    (box("ftyp") + box("moov", full_box("mvhd", 0, 0, bytes(96))), "moov has no tracks"),
    (box("ftyp") + box("moov", trak(1, "vide", 0, avc1())), "timescale of 0"),
    (box("ftyp") + box("moov", trak(1, "vide", 1, b"")), "'stsd' box is truncated"),
    (box("ftyp") + box("moov", trak(1, "vide", 1, avc1()), trak(1, "vide", 1, avc1())),
     "repeats a track id"),
], ids=["moof-first", "lone-mdat", "moof-moof", "box-inside-fragment", "second-moov",
        "no-tracks", "zero-timescale", "no-sample-entry", "repeated-track"])
def test_boxes_out_of_order(data, message):
    with pytest.raises(ValueError, match=message):
        FragmentStream().feed(data)


@pytest.mark.parametrize("data, message", [
    (init_segment() + moof(1, traf(1, 0, trun(1), default_duration=1)), "without its mdat"),
    (box("ftyp"), "ends before the moov"),
], ids=["moof-without-mdat", "no-moov"])
def test_streams_that_end_early(data, message):
    stream = FragmentStream()
    stream.feed(data)
    with pytest.raises(ValueError, match=message):
        stream.close()


def test_trailing_boxes_after_the_last_fragment_are_ignored():
    stream = FragmentStream()
    items = stream.feed(small_stream() + box("mfra", full_box("mfro", 0, 0, u32(16))))
    assert len(items + stream.close()) == 4


# --- reading a pipe ------------------------------------------------------------------------

def test_read_fragments_from_a_file_and_a_descriptor():
    data = small_stream()
    from_file = list(fmp4.read_fragments(io.BufferedReader(io.BytesIO(data)), read_size=7))
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
        os.close(write_end)
        from_fd = list(fmp4.read_fragments(read_end, read_size=100))
    finally:
        os.close(read_end)
    assert summary(from_file) == summary(from_fd)
    assert b"".join(item.data for item in from_fd) == data


# --- the real ffmpeg -----------------------------------------------------------------------

FPS = 30
GOP_FRAMES = 2 * FPS
PART_FRAMES = 10  # 1/3 s; six parts to a GOP
# The mp4 muxer cuts once a fragment holds at least -frag_duration: half a frame short of
# PART_FRAMES makes every cut land exactly after PART_FRAMES frames.
FRAG_DURATION_US = round((PART_FRAMES - 0.5) / FPS * 1_000_000)


@pytest.mark.media
def test_real_ffmpeg_fragments():
    ffmpeg = require_tool("ffmpeg")
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}", "-t", "4",
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
            "-g", str(GOP_FRAMES), "-keyint_min", str(GOP_FRAMES), "-sc_threshold", "0",
            "-bf", "0", "-pix_fmt", "yuv420p",
            "-f", "mp4", "-movflags", "empty_moov+default_base_moof+frag_keyframe+cmaf",
            "-frag_duration", str(FRAG_DURATION_US), "pipe:1"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        items = list(fmp4.read_fragments(process.stdout))
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode(errors="replace")

    inits = [item for item in items if isinstance(item, InitSegment)]
    assert len(inits) == 1 and items[0] is inits[0]
    init = inits[0]
    assert init.codecs.startswith("avc1.64")  # High profile
    assert (init.primary_track.width, init.primary_track.height) == (640, 360)
    fragments = items[1:]
    assert all(isinstance(f, Fragment) for f in fragments)

    assert sum(f.duration for f in fragments) == pytest.approx(4.0, abs=0.01)
    assert max(f.duration for f in fragments) <= 0.34
    assert min(f.duration for f in fragments) >= 0.33
    running = 0
    for fragment in fragments:
        assert fragment.decode_time == running
        running += fragment.primary.duration_ticks
        at_keyframe = round(fragment.start * FPS) % GOP_FRAMES == 0
        assert fragment.independent is at_keyframe, f"fragment at {fragment.start:.3f} s"
    assert [round(f.start, 3) for f in fragments if f.independent] == [0.0, 2.0]
    assert [f.sequence_number for f in fragments] == list(range(1, len(fragments) + 1))
