"""The LL-HLS rendition packager, fed synthetic parts: files, playlists and the spec's rules."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.media.llhls import (
    PLAYLIST,
    ProgramDates,
    RenditionPackager,
    SegmentStart,
    WriteRefused,
    part_name,
    part_target_for,
    segment_name,
)
from app.media.playlist import RenditionReport, program_date

from .llhls_rules import PlaylistHistory, check_playlist, parse

PART = part_target_for(10, 30)  # 10 frames at 30 fps: 0.334 s


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def packager(tmp_path, clock=None, **kwargs):
    options = {"part_target": PART, "segment_min": 1.0, "target_duration": 1, "window": 6,
               "part_segments": 3}
    options.update(kwargs)
    made = RenditionPackager(tmp_path, clock=clock or Clock(), **options)
    made.add_init(b"ftypmoov")
    return made


def feed_gops(pack, gops: int, parts_per_gop: int = 3, clock: Clock | None = None, history=None):
    """GOPs of `parts_per_gop` parts of 10 frames each at 30 fps; the first part of each is a keyframe."""
    for gop in range(gops):
        for n in range(parts_per_gop):
            pack.add_part(f"gop{gop}part{n}".encode(), 10 / 30, independent=n == 0)
            if clock:
                clock.advance(10 / 30)
            if history is not None:
                history.add((pack.directory / PLAYLIST).read_text())


def test_part_target_rounds_up_to_the_millisecond():
    assert part_target_for(10, 30) == 0.334
    assert part_target_for(9, 30) == 0.3
    assert part_target_for(9, 29.97) == 0.301
    with pytest.raises(ValueError):
        part_target_for(0, 30)


def test_segments_start_at_keyframes_once_long_enough(tmp_path):
    pack = packager(tmp_path)
    history = PlaylistHistory()
    feed_gops(pack, 4, history=history)
    assert history.count == 12
    text = (tmp_path / PLAYLIST).read_text()
    playlist = check_playlist(text)
    assert [s.msn for s in playlist.segments] == [0, 1, 2, 3]
    assert [s.uri for s in playlist.segments[:3]] == [segment_name(n) for n in range(3)]
    assert playlist.segments[3].uri is None and len(playlist.segments[3].parts) == 3  # still open
    assert (tmp_path / segment_name(1)).read_bytes() == b"gop1part0gop1part1gop1part2"
    assert (tmp_path / part_name(3, 2)).read_bytes() == b"gop3part2"
    assert playlist.preload_hint == part_name(3, 3)
    assert "#EXT-X-PART-INF:PART-TARGET=0.334" in text
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0,PART-HOLD-BACK=1.002,HOLD-BACK=3.0" in text
    assert '#EXT-X-MAP:URI="init-0.mp4"' in text and (tmp_path / "init-0.mp4").read_bytes() == b"ftypmoov"
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == 4


def test_with_a_fixed_gop_a_segment_closes_with_its_last_part_and_the_hint_names_the_next(tmp_path):
    """Our ladders' GOPs are fixed: the part that completes a GOP completes the segment, so the
    playlist lists it whole at once and hints the part that really comes next (Shaka Player asks
    for the hint before it exists: a hint of a part that never comes is a 404 it stalls on)."""
    pack = packager(tmp_path, gop=1.0)
    history = PlaylistHistory()
    feed_gops(pack, 3, history=history)
    playlist = check_playlist((tmp_path / PLAYLIST).read_text())
    assert [(s.msn, s.uri, len(s.parts)) for s in playlist.segments] == [
        (0, "s0.m4s", 3), (1, "s1.m4s", 3), (2, "s2.m4s", 3)]
    assert playlist.preload_hint == part_name(3, 0)
    assert (tmp_path / "recording.m3u8").read_text().count("#EXTINF:") == 3
    # Short GOPs (two parts here) are joined until the segment is long enough, and it still
    # closes with the part that completes its last GOP.
    pack = packager(tmp_path / "short", gop=2 * D, target_duration=2)
    feed_gops(pack, 4, parts_per_gop=2, history=PlaylistHistory())
    assert [len(s.parts) for s in pack.segments] == [4, 4] and pack.segments[-1].complete


def test_a_broken_fixed_gop_is_logged_and_the_stream_goes_on(tmp_path, caplog):
    pack = packager(tmp_path, gop=1.0)
    feed_gops(pack, 1)
    assert pack.add_part(b"no keyframe", D, False) == (1, 0)
    assert "no keyframe where the fixed GOP" in caplog.text and pack.gop is None
    pack.add_part(b"p", D, False)
    pack.add_part(b"p", D, False)
    pack.add_part(b"k", D, True)  # segments now close at keyframes again
    assert [s.msn for s in pack.segments] == [0, 1, 2] and pack.segments[1].complete


def test_a_part_that_opens_a_segment_keeps_the_name_it_was_hinted_under(tmp_path):
    """A publisher's keyframes come when they come (a passthrough): while a segment is open the
    next part may continue it or open the next one, so the hint names it as the next part of the
    open segment, and the part keeps that name whichever it turns out to be."""
    pack = packager(tmp_path, target_duration=2)
    history = PlaylistHistory()
    feed_gops(pack, 1, history=history)
    assert parse((tmp_path / PLAYLIST).read_text()).preload_hint == "p0.3.m4s"
    feed_gops(pack, 2, history=history)  # the keyframe part after it opens segment 1
    playlist = check_playlist((tmp_path / PLAYLIST).read_text())
    assert [[part["uri"] for part in s.parts] for s in playlist.segments] == [
        ["p0.0.m4s", "p0.1.m4s", "p0.2.m4s"], ["p0.3.m4s", "p1.1.m4s", "p1.2.m4s"],
        ["p1.3.m4s", "p2.1.m4s", "p2.2.m4s"]]
    assert playlist.segments[1].parts[0]["independent"] and playlist.preload_hint == "p2.3.m4s"
    assert (tmp_path / segment_name(1)).read_bytes() == b"".join(
        (tmp_path / name).read_bytes() for name in ("p0.3.m4s", "p1.1.m4s", "p1.2.m4s"))
    assert history.count == 9  # every playlist's hint was the next part listed


def test_program_dates_follow_the_media_not_the_moment_parts_arrive(tmp_path):
    """EXT-X-PROGRAM-DATE-TIME dates a segment's first sample: consecutive dates differ by the
    segments' durations however late parts reach the packager, and the renditions of a ladder
    (one ProgramDates) date a segment alike."""
    clock = Clock()
    dates = ProgramDates(clock)
    packs = [packager(tmp_path / name, clock=clock, gop=1.0, dates=dates) for name in ("720p", "480p")]
    first = clock.now
    for gop in range(4):
        for n in range(3):
            for lag, pack in zip((0.0, 0.007), packs):
                clock.advance(lag)  # the second rung's parts arrive a little later
                pack.add_part(b"x", D, n == 0, start=100.0 + gop + n * D)
            clock.advance(D + (0.09 if gop % 2 else -0.05))  # and delivery jitters
    for pack in packs:
        playlist = parse((pack.directory / PLAYLIST).read_text())
        assert [s.program_date for s in playlist.segments] == [
            program_date(first + timedelta(seconds=n)) for n in range(4)]
    assert ProgramDates(clock).date(None) == clock.now  # no media time: the clock's


def test_rules_catch_a_hint_that_is_not_the_next_part():
    history = PlaylistHistory()
    head = ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002\n"
            "#EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init-0.mp4\"\n")
    parts = ['#EXT-X-PART:DURATION=0.334,URI="p0.0.m4s",INDEPENDENT=YES',
             '#EXT-X-PART:DURATION=0.334,URI="p0.1.m4s"', '#EXT-X-PART:DURATION=0.334,URI="p0.2.m4s"']
    history.add(head + "\n".join(parts[:2]) + '\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p0.2.m4s"\n')
    with pytest.raises(AssertionError, match="p0.2.m4s was hinted, but the next part is p1.0.m4s"):
        history.add(head + "\n".join(parts[:2]) + "\n#EXTINF:0.668,\ns0.m4s\n"
                    '#EXT-X-PART:DURATION=0.334,URI="p1.0.m4s",INDEPENDENT=YES\n'
                    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p1.1.m4s"\n')


def test_short_gops_are_joined_until_the_segment_is_long_enough(tmp_path):
    pack = packager(tmp_path, segment_min=1.0, target_duration=2)
    # Keyframes every 2 parts (0.67 s): a segment closes at the first keyframe after 1 s.
    feed_gops(pack, 4, parts_per_gop=2)
    playlist = check_playlist((tmp_path / PLAYLIST).read_text())
    assert [len(s.parts) for s in playlist.segments] == [4, 4]
    assert playlist.segments[0].duration == pytest.approx(4 * 10 / 30, abs=0.001)


def test_the_first_part_must_be_independent_and_init_comes_first(tmp_path):
    fresh = RenditionPackager(tmp_path, part_target=PART, segment_min=1, target_duration=1)
    with pytest.raises(ValueError, match="init"):
        fresh.add_part(b"x", 0.3, True)
    fresh.add_init(b"init")
    with pytest.raises(ValueError, match="independent"):
        fresh.add_part(b"x", 0.3, False)
    with pytest.raises(ValueError, match="lasts"):
        fresh.add_part(b"x", 0, True)
    with pytest.raises(ValueError, match="TARGETDURATION"):
        RenditionPackager(tmp_path, part_target=PART, segment_min=2, target_duration=1)


def test_window_slides_and_parts_are_listed_for_the_newest_segments_only(tmp_path):
    clock = Clock()
    pack = packager(tmp_path, clock=clock, window=4, part_segments=2, gop=1.0)
    history = PlaylistHistory()
    feed_gops(pack, 9, clock=clock, history=history)
    playlist = parse((tmp_path / PLAYLIST).read_text())
    assert playlist.media_sequence == 5
    assert [s.msn for s in playlist.segments] == [5, 6, 7, 8]
    assert [bool(s.parts) for s in playlist.segments] == [False, False, True, True]
    # Segment files stay (the VOD job needs them); old part files go three target durations
    # after they leave the playlist, not before.
    assert all((tmp_path / segment_name(n)).exists() for n in range(8))
    assert not (tmp_path / part_name(0, 0)).exists()
    assert (tmp_path / part_name(6, 0)).exists()  # left the playlist less than 3 s ago


def test_finish_ends_the_playlist_without_ll_tags_after_it(tmp_path):
    pack = packager(tmp_path)
    feed_gops(pack, 2)
    pack.add_part(b"tail", 0.1, True)
    pack.finish()
    text = (tmp_path / PLAYLIST).read_text()
    playlist = check_playlist(text)
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-PRELOAD-HINT" not in text and "#EXT-X-PART:" not in text
    assert [s.uri for s in playlist.segments] == [segment_name(n) for n in range(3)]
    with pytest.raises(ValueError, match="ended"):
        pack.add_part(b"late", 0.3, True)


def test_parts_are_announced_and_rendition_reports_listed(tmp_path):
    announced = []
    reports = [RenditionReport("../v1/index.m3u8", 7, 2)]
    pack = packager(tmp_path, on_part=lambda msn, part: announced.append((msn, part)),
                    reports=lambda: reports, gop=1.0)
    feed_gops(pack, 2)
    assert announced == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert pack.last == (1, 2)
    text = (tmp_path / PLAYLIST).read_text()
    assert '#EXT-X-RENDITION-REPORT:URI="../v1/index.m3u8",LAST-MSN=7,LAST-PART=2' in text
    # The announcement comes after the playlist that lists the part is in place.
    seen = []
    pack.on_part = lambda msn, part: seen.append(part_name(msn, part) in (tmp_path / PLAYLIST).read_text())
    pack.add_part(b"x", 10 / 30, True)
    assert seen == [True]


def test_rules_catch_broken_playlists():
    good = ("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n"
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002\n"
            "#EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-MEDIA-SEQUENCE:0\n"
            '#EXT-X-MAP:URI="init-0.mp4"\n'
            '#EXT-X-PART:DURATION=0.334,URI="p0.0.m4s",INDEPENDENT=YES\n'
            '#EXT-X-PART:DURATION=0.334,URI="p0.1.m4s"\n'
            '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p0.2.m4s"\n')
    check_playlist(good)
    with pytest.raises(AssertionError, match="PART-TARGET"):
        check_playlist(good.replace("DURATION=0.334,URI=\"p0.1", "DURATION=0.4,URI=\"p0.1"))
    with pytest.raises(AssertionError, match="independent"):
        check_playlist(good.replace(",INDEPENDENT=YES", ""))
    with pytest.raises(AssertionError, match="next part"):
        check_playlist(good.replace('URI="p0.2.m4s"', 'URI="p0.3.m4s"'))
    with pytest.raises(AssertionError, match="85 %"):
        check_playlist(good.replace("DURATION=0.334,URI=\"p0.1", "DURATION=0.2,URI=\"p0.1").replace(
            '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p0.2.m4s"',
            '#EXT-X-PART:DURATION=0.334,URI="p0.2.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p0.3.m4s"'))
    check_playlist(good.replace("DURATION=0.334,URI=\"p0.0", "DURATION=0.2,URI=\"p0.0"))  # independent: may be short
    with pytest.raises(AssertionError, match="ENDLIST"):
        check_playlist(good + "#EXT-X-ENDLIST\n#EXT-X-PART:DURATION=0.3,URI=\"x\"\n")
    with pytest.raises(AssertionError, match="EXT-X-MAP"):
        check_playlist(good.replace('#EXT-X-MAP:URI="init-0.mp4"\n', ""))
    with pytest.raises(AssertionError, match="before the first part"):
        check_playlist(good.replace('#EXT-X-PRELOAD-HINT', "#EXT-X-DISCONTINUITY\n#EXT-X-PRELOAD-HINT"))


def test_a_restart_carries_on_numbering_with_a_discontinuity_and_a_new_init(tmp_path):
    clock = Clock()
    history = PlaylistHistory()
    first = packager(tmp_path, clock=clock, window=4)
    feed_gops(first, 3, clock=clock, history=history)
    first.close()  # ffmpeg restarts (a lighter ladder, say): the open segment 2 is closed
    history.add((tmp_path / PLAYLIST).read_text())
    assert parse((tmp_path / PLAYLIST).read_text()).preload_hint == part_name(3, 0)

    second = RenditionPackager(tmp_path, part_target=PART, segment_min=1.0, target_duration=1, window=4,
                               part_segments=3, clock=clock)
    assert not second.has_init and second.segments[-1].msn == 2
    second.add_init(b"ftypmoov2")
    feed_gops(second, 3, clock=clock, history=history)
    text = (tmp_path / PLAYLIST).read_text()
    playlist = check_playlist(text)
    assert [s.msn for s in playlist.segments] == [2, 3, 4, 5]
    assert [s.init for s in playlist.segments] == ["init-0.mp4", "init-3.mp4", "init-3.mp4", "init-3.mp4"]
    assert [s.discontinuity for s in playlist.segments] == [0, 1, 1, 1]
    assert (tmp_path / "init-3.mp4").read_bytes() == b"ftypmoov2"
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index('#EXT-X-MAP:URI="init-3.mp4"') < text.index("p3.0.m4s")

    # Once the discontinuity leaves the window, the sequence number counts it.
    feed_gops(second, 3, clock=clock, history=history)
    text = (tmp_path / PLAYLIST).read_text()
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in text and "#EXT-X-DISCONTINUITY\n" not in text
    assert text.count("#EXT-X-MAP:") == 1

    # The recording lists every segment once, with the discontinuity and both init sections.
    recording = (tmp_path / "recording.m3u8").read_text()
    assert [line for line in recording.splitlines() if not line.startswith("#")] == \
        [segment_name(n) for n in range(8)]
    assert recording.count("#EXT-X-DISCONTINUITY") == 1 and recording.count("#EXT-X-MAP:") == 2


def test_a_segment_left_open_by_a_dead_run_is_closed_from_its_listed_parts(tmp_path):
    clock = Clock()
    first = packager(tmp_path, clock=clock)
    feed_gops(first, 2, clock=clock)  # segment 1 is still open: the worker died
    before = (tmp_path / PLAYLIST).read_text()
    dead_parts = [part.uri for segment in first.segments for part in segment.parts]
    second = RenditionPackager(tmp_path, part_target=PART, segment_min=1.0, target_duration=1, clock=clock)
    second.add_init(b"again")
    feed_gops(second, 1, clock=clock)
    playlist = check_playlist((tmp_path / PLAYLIST).read_text())
    assert [s.msn for s in playlist.segments] == [0, 1, 2]
    assert (tmp_path / segment_name(1)).read_bytes() == b"gop1part0gop1part1gop1part2"
    assert playlist.segments[1].duration == pytest.approx(1.0, abs=0.003)
    assert playlist.segments[2].init == "init-2.mp4" and playlist.segments[2].discontinuity == 1
    history = PlaylistHistory()
    history.add(before)
    history.add((tmp_path / PLAYLIST).read_text())
    # The dead run's parts are deleted three target durations later.
    assert all((tmp_path / name).exists() for name in dead_parts)
    clock.advance(3.1)
    second.add_part(b"more", 10 / 30, False)
    assert not any((tmp_path / name).exists() for name in dead_parts)


def test_without_recording_segments_go_three_target_durations_after_leaving(tmp_path):
    clock = Clock()
    pack = packager(tmp_path, clock=clock, window=3, record=False)
    feed_gops(pack, 8, clock=clock)
    assert [s.msn for s in pack.segments] == [5, 6, 7]
    assert not (tmp_path / "recording.m3u8").exists()
    assert not (tmp_path / segment_name(0)).exists()  # left the playlist 4 s ago
    assert (tmp_path / segment_name(4)).exists()  # left 1 s ago: a player may still fetch it


def test_the_blocking_endpoint_reads_what_the_packager_writes(tmp_path):
    """The packager's playlists, as app.media.playlist (the blocking-reload side) parses them."""
    from app.media.playlist import delta_update, parse_media_playlist

    clock = Clock()
    pack = packager(tmp_path, clock=clock, window=12)
    feed_gops(pack, 9, clock=clock)
    state = parse_media_playlist((tmp_path / PLAYLIST).read_text())
    assert (state.last_msn, state.last_part) == (8, 2)
    assert state.has(8, 2) and not state.has(8, 3) and state.has(7) and not state.has(8)
    assert state.preload_hint == part_name(8, 3)
    assert state.can_skip_until == 6.0 and state.target_duration == 1
    delta = delta_update((tmp_path / PLAYLIST).read_text(), state.can_skip_until)
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=" in delta
    skipped = int(delta.split("#EXT-X-SKIP:SKIPPED-SEGMENTS=")[1].split()[0])
    assert check_playlist(delta).segments[0].msn == skipped  # the kept part still keeps the rules


class LeaseStandIn:
    """Stands in for app.live.lease.Lease: `valid` until the host loses the session."""

    def __init__(self):
        self.held = True
        self.asked = 0

    def valid(self) -> bool:
        self.asked += 1
        return self.held


def files(directory) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_a_host_without_the_lease_writes_nothing_not_even_the_init(tmp_path):
    lease = LeaseStandIn()
    lease.held = False
    fresh = RenditionPackager(tmp_path, part_target=PART, segment_min=1.0, target_duration=1, guard=lease.valid)
    with pytest.raises(WriteRefused, match="no longer owns"):
        fresh.add_init(b"ftypmoov")
    assert lease.asked == 1 and files(tmp_path) == {} and not fresh.has_init


@pytest.mark.parametrize("last_write", [
    lambda pack: pack.add_part(b"next", 10 / 30, independent=False),  # a part in the open segment
    lambda pack: pack.add_part(b"next", 10 / 30, independent=True),  # one that would close it first
    lambda pack: pack.close(),
    lambda pack: pack.finish(),
    lambda pack: pack.add_init(b"ftypmoov2"),
], ids=["part", "keyframe-part", "close", "finish", "init"])
def test_once_the_lease_is_lost_every_write_is_refused_before_any_file_changes(tmp_path, last_write):
    lease = LeaseStandIn()
    pack = packager(tmp_path, guard=lease.valid)
    feed_gops(pack, 2)
    pack.add_part(b"gop2part0", 10 / 30, independent=True)
    assert lease.asked > 0  # asked before the writes so far
    before = files(tmp_path)
    lease.held = False
    with pytest.raises(WriteRefused):
        last_write(pack)
    assert files(tmp_path) == before  # recording.m3u8 included


def test_longest_is_the_longest_segment_closed(tmp_path):
    pack = packager(tmp_path, target_duration=2)
    assert pack.longest == 0.0
    feed_gops(pack, 1)
    assert pack.longest == 0.0  # still open
    feed_gops(pack, 1, parts_per_gop=6)  # closes the first (1 s), opens a 2 s one
    assert pack.longest == pytest.approx(1.0)
    feed_gops(pack, 1)
    assert pack.longest == pytest.approx(2.0)
    pack.finish()
    assert pack.longest == pytest.approx(2.0)


def test_longest_counts_this_run_only_not_segments_resumed_from_disk(tmp_path):
    first = packager(tmp_path, target_duration=3)
    feed_gops(first, 1, parts_per_gop=9)
    feed_gops(first, 1)
    first.close()
    assert first.longest == pytest.approx(3.0)
    second = RenditionPackager(tmp_path, part_target=PART, segment_min=1.0, target_duration=3)
    assert second.longest == 0.0
    second.add_init(b"ftypmoov2")
    feed_gops(second, 2)
    assert second.longest == pytest.approx(1.0)


# --- a rendition added beside a leading one ------------------------------------------------------

D = 10 / 30  # one part

def test_the_leader_tells_where_each_segment_starts_with_its_discontinuity_sequence(tmp_path):
    opened = []
    first = packager(tmp_path, on_segment=lambda start, where: opened.append((start, where)))
    for gop in range(2):
        for n in range(3):
            first.add_part(b"f", D, n == 0, start=10.0 + gop + n * D)
    first.close()
    again = packager(tmp_path, on_segment=lambda start, where: opened.append((start, where)))
    again.add_part(b"k", D, True, start=50.0)
    assert [(start, where.msn, where.discontinuity_sequence) for start, where in opened] == [
        (10.0, 0, 0), (11.0, 1, 0), (50.0, 2, 1)]  # after the restart: a discontinuity
    assert opened[-1][1].started == again.segments[-1].started


def test_a_follower_opens_segments_only_where_the_leader_does_with_its_number_and_date(tmp_path):
    clock = Clock()
    started = clock.now - timedelta(seconds=3)
    follower = packager(tmp_path, clock=clock, follower=True)
    # Before its first aligned keyframe a follower shows nothing.
    assert follower.add_part(b"k", D, True, aligned=None) is None
    assert follower.add_part(b"p", D, False, aligned=None) is None
    assert not (tmp_path / PLAYLIST).exists()
    assert follower.add_part(b"k", D, True, aligned=SegmentStart(40, started, 3)) == (40, 0)
    follower.add_part(b"p", D, False)
    # A keyframe of its own where the leader has no segment start stays inside the segment.
    assert follower.add_part(b"k", D, True, aligned=None) == (40, 2)
    assert follower.add_part(b"k", D, True, aligned=SegmentStart(41, started + timedelta(seconds=1), 3)) == (41, 0)
    text = (tmp_path / PLAYLIST).read_text()
    state = check_playlist(text)
    assert "#EXT-X-MEDIA-SEQUENCE:40" in text and "#EXT-X-DISCONTINUITY-SEQUENCE:3" in text
    assert "#EXT-X-DISCONTINUITY\n" not in text
    assert "#EXT-X-PROGRAM-DATE-TIME:" + program_date(started) in text
    assert [round(s.duration, 3) for s in state.segments if s.duration] == [1.0]
    # The leader went back (a new run): a follower never reuses a number.
    with pytest.raises(ValueError, match="behind"):
        follower.add_part(b"k", D, True, aligned=SegmentStart(41, started, 3))


def test_a_follower_keeps_clear_of_files_an_earlier_run_left(tmp_path):
    follower = RenditionPackager(tmp_path, part_target=PART, segment_min=0.0, target_duration=1,
                                 follower=True, min_msn=57)
    follower.add_init(b"ftypmoov")
    assert follower.init == "init-58.mp4"
    with pytest.raises(ValueError, match="behind"):
        follower.add_part(b"k", D, True, aligned=SegmentStart(57, Clock()(), 0))
    assert follower.add_part(b"k", D, True, aligned=SegmentStart(60, Clock()(), 0)) == (60, 0)
    assert (tmp_path / part_name(60, 0)).exists()  # named after its segment: p0.0 may be an earlier run's
