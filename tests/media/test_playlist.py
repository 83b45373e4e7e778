"""The playlist model (app.media.playlist): each tag's line, and every playlist we write read back equal."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.media import vod
from app.media.ladder import Source, ladder_for
from app.media.llhls import RECORDING, RenditionPackager, part_target_for
from app.media.llladder import live_master_playlist
from app.media.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    Part,
    PreloadHint,
    RenditionReport,
    Segment,
    ServerControl,
    Skip,
    Variant,
    decimal,
    delta_update,
    extinf,
    frame_rate,
    media_uris,
    parse_master,
    parse_media,
    program_date,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


# --- formats and tags ----------------------------------------------------------------------------


def test_decimal_writes_milliseconds_without_trailing_zeros():
    assert decimal(6) == "6.0" and decimal(1.002) == "1.002" and decimal(0.3) == "0.3"
    assert decimal(0.3336) == "0.334"


def test_extinf_always_has_three_decimals():
    assert extinf(1) == "1.000" and extinf(0.9666) == "0.967" and extinf(6.0061) == "6.006"


def test_dates_are_utc_milliseconds_with_z_whatever_zone_they_come_in():
    assert program_date(T0 + timedelta(microseconds=1500)) == "2026-11-25T12:00:00.001Z"
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    assert program_date(paris) == "2026-11-25T12:00:00.000Z"


def test_frame_rate_has_three_decimals():
    assert frame_rate(30) == "30.000" and frame_rate(30000 / 1001) == "29.970"


@pytest.mark.parametrize(("tag", "line"), [
    (Part(0.334, "p3.0.m4s", independent=True), '#EXT-X-PART:DURATION=0.334,URI="p3.0.m4s",INDEPENDENT=YES'),
    (Part(0.333, "p3.1.m4s"), '#EXT-X-PART:DURATION=0.333,URI="p3.1.m4s"'),
    (ServerControl(can_block_reload=True, can_skip_until=6, part_hold_back=1.002, hold_back=3),
     "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0,PART-HOLD-BACK=1.002,HOLD-BACK=3.0"),
    (ServerControl(hold_back=6), "#EXT-X-SERVER-CONTROL:HOLD-BACK=6.0"),
    (PreloadHint("p4.1.m4s"), '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p4.1.m4s"'),
    (RenditionReport("../480p/index.m3u8", 12, 2),
     '#EXT-X-RENDITION-REPORT:URI="../480p/index.m3u8",LAST-MSN=12,LAST-PART=2'),
    (Skip(6), "#EXT-X-SKIP:SKIPPED-SEGMENTS=6"),
    (Variant("720p/index.m3u8", 3_990_800, resolution=(1280, 720), codecs="avc1.64001f,mp4a.40.2",
             frame_rate=30, closed_captions="NONE"),
     ('#EXT-X-STREAM-INF:BANDWIDTH=3990800,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",'
      "FRAME-RATE=30.000,CLOSED-CAPTIONS=NONE\n720p/index.m3u8")),
    (Variant("v/index.m3u8", 2_000_000, average_bandwidth=1_500_000, resolution=(854, 480), codecs="avc1.64001e"),
     ('#EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1500000,RESOLUTION=854x480,CODECS="avc1.64001e"'
      "\nv/index.m3u8")),
])
def test_each_tag_renders_its_line(tag, line):
    assert tag.render() == line


def test_a_segment_writes_its_tags_before_its_parts_and_the_map_only_where_it_changes():
    segment = Segment("s5.m4s", 1.0, T0, "init-5.mp4", discontinuity=True,
                      parts=[Part(0.5, "p5.0.m4s", True), Part(0.5, "p5.1.m4s")])
    lines: list[str] = []
    assert segment.render(lines, "init-0.mp4") == "init-5.mp4"
    assert lines == ["#EXT-X-DISCONTINUITY", '#EXT-X-MAP:URI="init-5.mp4"',
                     "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000Z",
                     '#EXT-X-PART:DURATION=0.5,URI="p5.0.m4s",INDEPENDENT=YES',
                     '#EXT-X-PART:DURATION=0.5,URI="p5.1.m4s"',
                     "#EXTINF:1.000,", "s5.m4s"]
    again: list[str] = []
    Segment("s6.m4s", 1.0, None, "init-5.mp4").render(again, "init-5.mp4")
    assert again == ["#EXTINF:1.000,", "s6.m4s"]
    growing: list[str] = []
    Segment(None, parts=[Part(0.5, "p7.0.m4s", True)], map="init-5.mp4").render(growing, "init-5.mp4")
    assert growing == ['#EXT-X-PART:DURATION=0.5,URI="p7.0.m4s",INDEPENDENT=YES']


def test_the_header_has_one_order_for_every_kind():
    playlist = MediaPlaylist(target_duration=2, version=9, media_sequence=4, discontinuity_sequence=1,
                             playlist_type="EVENT", independent_segments=True,
                             server_control=ServerControl(can_block_reload=True), part_target=0.5)
    assert playlist.header() == ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-PLAYLIST-TYPE:EVENT",
                                 "#EXT-X-TARGETDURATION:2", "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES",
                                 "#EXT-X-PART-INF:PART-TARGET=0.5", "#EXT-X-MEDIA-SEQUENCE:4",
                                 "#EXT-X-DISCONTINUITY-SEQUENCE:1", "#EXT-X-INDEPENDENT-SEGMENTS"]


# --- every playlist we write reads back equal ----------------------------------------------------


def packager(tmp_path, **options):
    clock = {"now": T0}
    made = RenditionPackager(tmp_path, part_target=part_target_for(10, 30), segment_min=1.0, target_duration=1,
                             window=6, part_segments=3, clock=lambda: clock["now"],
                             reports=lambda: [RenditionReport("../480p/index.m3u8", 7, 1)], **options)
    made.add_init(b"ftypmoov")
    return made


def feed(pack, parts: int) -> None:
    for n in range(parts):
        pack.add_part(b"part", 10 / 30, independent=n % 3 == 0, start=n / 3)


def assert_round_trip(text: str) -> MediaPlaylist:
    parsed = parse_media(text)
    assert parsed.render() == text
    assert parsed.problems == []
    return parsed


def test_the_live_playlist_reads_back_equal_with_its_growing_segment(tmp_path):
    pack = packager(tmp_path)
    feed(pack, 3 * 8 + 2)
    parsed = assert_round_trip(pack.render())
    assert parsed.segments[-1].uri is None and len(parsed.segments[-1].parts) == 2
    assert parsed.preload_hint == PreloadHint(pack.next_part_name)
    assert parsed.rendition_reports == [RenditionReport("../480p/index.m3u8", 7, 1)]
    built = pack.playlist()
    assert [(s.uri, s.date, s.map, len(s.parts)) for s in parsed.segments] == [
        (s.uri, s.date, s.map, len(s.parts)) for s in built.segments]


def test_a_restarted_live_playlist_reads_back_equal_with_its_discontinuity(tmp_path):
    first = packager(tmp_path)
    feed(first, 3 * 4)
    first.close()
    second = packager(tmp_path)
    feed(second, 3 * 3 + 1)
    parsed = assert_round_trip(second.render())
    assert any(segment.discontinuity for segment in parsed.segments)
    assert len({segment.map for segment in parsed.segments}) == 2


def test_the_ended_live_playlist_and_the_recording_read_back_equal(tmp_path):
    pack = packager(tmp_path)
    feed(pack, 3 * 8)
    pack.finish()
    ended = assert_round_trip(pack.render())
    assert ended.ended and ended.preload_hint is None and all(not s.parts for s in ended.segments)
    recording = (tmp_path / RECORDING).read_text()
    parsed = assert_round_trip(recording)
    assert parsed.playlist_type == "EVENT" and len(parsed.segments) == 8
    assert [s.date for s in parsed.segments] == [T0 + timedelta(seconds=n) for n in range(8)]


def test_the_vod_playlists_read_back_equal():
    segments = [vod.VodSegment(index=n, init=n // 3, sources=[f"s{n}.m4s"], duration=6.006, discontinuity=n == 3,
                               started=T0 + timedelta(seconds=6.006 * n)) for n in range(5)]
    parsed = assert_round_trip(vod.media_playlist(segments))
    assert parsed.playlist_type == "VOD" and parsed.ended and parsed.independent_segments
    master = vod.vod_master_playlist([vod.Variant("480p/index.m3u8", 2_000_000, 1_500_000, 854, 480,
                                                  "avc1.64001e,mp4a.40.2", 30.0),
                                      vod.Variant("720p/index.m3u8", 4_000_000, 3_000_000, 1280, 720,
                                                  "avc1.64001f,mp4a.40.2")])
    assert parse_master(master).render() == master
    assert [v.uri for v in parse_master(master).variants] == ["720p/index.m3u8", "480p/index.m3u8"]


def test_the_live_master_reads_back_equal():
    rungs = ladder_for(Source(1280, 720, 30))
    text = live_master_playlist(rungs, ["avc1.64001f,mp4a.40.2"] * len(rungs))
    parsed = parse_master(text)
    assert parsed.render() == text
    assert parsed == MasterPlaylist(parsed.variants, version=9)
    assert all(v.closed_captions == "NONE" and v.frame_rate == 30 for v in parsed.variants)


def test_a_delta_update_reads_back_equal_with_its_skip(tmp_path):
    pack = packager(tmp_path)
    feed(pack, 3 * 8 + 1)
    delta = delta_update(pack.render(), 2.0)
    parsed = assert_round_trip(delta)
    assert parsed.skipped == 3 and parsed.segments[0].uri == "s6.m4s"  # of s3..s8


# --- reading what others wrote -------------------------------------------------------------------


def test_the_parser_keeps_tags_it_does_not_type_and_notes_what_it_cannot_read():
    text = ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
            '#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-25T06:00:00.000Z"\n#EXT-X-PROGRAM-DATE-TIME:soon\n'
            "#EXTINF:2.0,\na.ts\n#EXTINF:two,\nb.ts\n")
    parsed = parse_media(text)
    assert [s.uri for s in parsed.segments] == ["a.ts", "b.ts"]
    assert parsed.segments[0].tags == ['#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-25T06:00:00.000Z"']
    assert parsed.segments[0].date is None and parsed.segments[1].duration is None
    assert parsed.problems == [(4, "bad EXT-X-PROGRAM-DATE-TIME"), (7, "bad EXTINF")]


def test_ffmpeg_dates_with_an_offset_read_as_the_same_moment():
    parsed = parse_media("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T13:00:00.000+0100\n#EXTINF:2.000000,\ns.m4s\n")
    assert parsed.segments[0].date == T0 and parsed.segments[0].duration == 2.0


def test_media_uris_name_each_init_section_once_then_parts_and_segments():
    text = ('#EXTM3U\n#EXT-X-MAP:URI="i0.mp4"\n#EXTINF:1,\ns0.m4s\n#EXTINF:1,\ns1.m4s\n'
            '#EXT-X-MAP:URI="i2.mp4"\n#EXT-X-PART:DURATION=0.5,URI="p2.0.m4s"\n')
    assert list(media_uris(parse_media(text))) == ["i0.mp4", "s0.m4s", "s1.m4s", "i2.mp4", "p2.0.m4s"]
