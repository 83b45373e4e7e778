"""app.media.playlist on its own: the live edge of a playlist, and its delta updates (no files, no app)."""
from __future__ import annotations

import pytest

from app.media.playlist import attributes, delta_update, parse_media_playlist

from .playlists import live_playlist


def test_live_edge_is_the_last_part_of_the_growing_segment():
    state = parse_media_playlist(live_playlist(first_msn=10, segments=3, parts=2))
    assert (state.media_sequence, state.segments) == (10, 3)
    assert (state.last_msn, state.last_part, state.last_complete_msn) == (13, 1, 12)
    assert state.target_duration == 1.0 and state.part_target == 0.25
    assert state.can_skip_until == 6.0 and state.can_block_reload
    assert state.preload_hint == "p13.2.m4s" and not state.ended


def test_a_just_completed_segment_is_the_edge_with_its_last_part():
    state = parse_media_playlist(live_playlist(first_msn=5, segments=3, parts=0, parts_per_segment=4))
    assert (state.last_msn, state.last_part) == (7, 3)
    assert state.preload_hint == "p8.0.m4s"


def test_classic_playlist_without_parts():
    text = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n"
            "#EXTINF:2.0,\na.ts\n#EXTINF:2.0,\nb.ts\n#EXT-X-ENDLIST\n")
    state = parse_media_playlist(text)
    assert (state.last_msn, state.last_part, state.last_complete_msn) == (5, None, 5)
    assert state.ended and state.can_skip_until is None and state.part_target is None
    assert state.has(5) and state.has(5, 9) and not state.has(6, 0)


def test_empty_playlist_waits_for_its_first_part():
    state = parse_media_playlist(live_playlist(segments=0, parts=0))
    assert (state.last_msn, state.last_part) == (-1, None)
    assert not state.has(0, 0) and not state.too_far_ahead(1) and state.too_far_ahead(2)


@pytest.mark.parametrize(("msn", "part", "has"), [
    (12, None, True),    # complete segment
    (13, None, False),   # still growing
    (13, 0, True), (13, 1, True), (13, 2, False),
    (12, 3, True), (12, 9, True),  # past the end of a completed segment: a later part exists
    (14, 0, False), (9, 0, True),
])
def test_has(msn, part, has):
    state = parse_media_playlist(live_playlist(first_msn=10, segments=3, parts=2))
    assert state.has(msn, part) is has


def test_part_index_past_a_completed_segment_waits_for_the_next_segment():
    state = parse_media_playlist(live_playlist(first_msn=0, segments=3, parts=0, parts_per_segment=4))
    assert state.has(2, 3) and not state.has(2, 4) and not state.has(3, 0)


def test_two_segments_ahead_is_the_limit():
    state = parse_media_playlist(live_playlist(first_msn=10, segments=3, parts=2))  # last msn 13
    assert not state.too_far_ahead(15) and state.too_far_ahead(16)


def test_attributes_keep_commas_inside_quotes():
    assert attributes('#EXT-X-DATERANGE:ID="a,b",START-DATE="2026-01-01T00:00:00Z",DURATION=5') == {
        "ID": "a,b", "START-DATE": "2026-01-01T00:00:00Z", "DURATION": "5"}


def _segment_uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_delta_update_skips_only_segments_older_than_the_skip_boundary():
    full = live_playlist(first_msn=100, segments=12, parts=2, skip_until=6.0)  # 12 s + 0.5 s of parts
    delta = delta_update(full, 6.0)
    # Segment 100+i ends at i+1 s; the edge is at 12.5 s: those ending before 6.5 s go.
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n" in delta
    assert _segment_uris(delta) == [f"s{msn}.m4s" for msn in range(106, 112)]
    state = parse_media_playlist(full)
    skipped = parse_media_playlist(delta)
    # The client's arithmetic: MEDIA-SEQUENCE + skipped + listed gives the same edge.
    assert "#EXT-X-MEDIA-SEQUENCE:100" in delta
    assert skipped.segments + 6 == state.segments
    assert delta.endswith('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p112.2.m4s"\n')
    assert '#EXT-X-PART:DURATION=0.250,URI="p112.1.m4s"' in delta


def test_delta_update_keeps_map_and_playlist_tags_and_raises_the_version():
    full = live_playlist(segments=12, parts=1, version=7)
    delta = delta_update(full, 6.0)
    lines = delta.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-VERSION:9" in lines and "#EXT-X-VERSION:7" not in lines
    for tag in ("#EXT-X-TARGETDURATION:", "#EXT-X-SERVER-CONTROL:", "#EXT-X-PART-INF:", "#EXT-X-MEDIA-SEQUENCE:"):
        assert sum(line.startswith(tag) for line in lines) == 1
    skip = lines.index(next(line for line in lines if line.startswith("#EXT-X-SKIP:")))
    # The init section still applies to every kept segment: it follows the skip.
    assert lines[skip + 1] == '#EXT-X-MAP:URI="init.mp4"'
    assert lines.index("#EXT-X-MEDIA-SEQUENCE:0") < skip
    assert lines[skip + 2].startswith("#EXT-X-PROGRAM-DATE-TIME:")


def test_delta_update_carries_the_date_to_the_first_kept_segment():
    text = ("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0\n#EXT-X-MEDIA-SEQUENCE:0\n"
            '#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:00:00.000Z\n'
            + "".join(f"#EXTINF:2.000,\ns{i}.m4s\n" for i in range(10)))
    delta = delta_update(text, 12.0)
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n" in delta  # s0..s2 end 14 s or more before 20 s
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:00:06.000Z\n#EXTINF:2.000,\ns3.m4s" in delta
    assert "06:00:00.000Z" not in delta


def test_delta_update_keeps_dateranges_and_drops_discontinuities_of_skipped_segments():
    text = ("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
            "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12.0\n#EXT-X-MEDIA-SEQUENCE:0\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T06:00:00.000Z\n"
            '#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-25T06:00:00.000Z",DURATION=2\n'
            "#EXTINF:2.000,\ns0.m4s\n#EXT-X-DISCONTINUITY\n"
            '#EXT-X-MAP:URI="init2.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T07:00:00.000Z\n'
            + "".join(f"#EXTINF:2.000,\ns{i}.m4s\n" for i in range(1, 10)))
    delta = delta_update(text, 12.0)
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n" in delta
    assert '#EXT-X-DATERANGE:ID="ad"' in delta
    assert "#EXT-X-DISCONTINUITY" not in delta
    assert '#EXT-X-MAP:URI="init2.mp4"' in delta
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T07:00:04.000Z\n#EXTINF:2.000,\ns3.m4s" in delta


@pytest.mark.parametrize("text", [
    live_playlist(segments=4, parts=2),             # 4.5 s: nothing is 6 s old
    live_playlist(segments=12, ended=True),         # ended: no delta updates
], ids=["young", "ended"])
def test_delta_update_leaves_playlists_with_nothing_to_skip_alone(text):
    assert delta_update(text, 6.0) == text
