"""The VOD job's pure pieces: reading a recording, grouping segments, playlists and seek previews,
without running anything (its ffmpeg commands: tests/media/test_ffmpeg_args.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.media import vod
from app.media.fmp4 import FragmentStream, parse_init
from app.media.vod import BadRecording, LiveSegment, VodSegment

from .llhls_rules import check_playlist
from .test_fmp4 import box, init_segment, u32, video_fragment

T0 = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def live(durations, *, init="init-0.mp4", start=0, at=T0, discontinuity_at=()):
    """Live segments s<n>.m4s of the given durations, dated back to back."""
    out = []
    for offset, seconds in enumerate(durations):
        out.append(LiveSegment(f"s{start + offset}.m4s", seconds, init, at,
                               discontinuity=offset in discontinuity_at))
        at += timedelta(seconds=seconds)
    return out


def manifest(**changes):
    base = {"session_id": 7, "channel_id": 3, "internal_name": "st-abc_1",
            "started_at": "2026-11-25T20:00:00+00:00", "ended_at": "2026-11-25T21:00:00+00:00",
            "renditions": [{"name": "720p", "fps": 30}], "master": "master.m3u8",
            "rungs": {"720p": {"inits": ["init-0.mp4"], "segments": ["s0.m4s", "s1.m4s"],
                               "playlist": "recording.m3u8"},
                      "360p": {"inits": ["init-0.mp4"], "segments": ["s0.m4s"]}}}
    base.update(changes)
    return base


# --- the recording -----------------------------------------------------------------------------


def test_a_manifest_is_read_with_every_name_checked():
    recording = vod.read_manifest(manifest())
    assert recording.session_id == 7 and recording.internal_name == "st-abc_1"
    assert recording.started_at == T0 and recording.ended_at == T0 + timedelta(hours=1)
    assert [r.name for r in recording.rungs] == ["360p", "720p"]
    top = recording.rungs[1]
    assert top.files == ("init-0.mp4", "s0.m4s", "s1.m4s", "recording.m3u8")
    assert recording.rungs[0].playlist is None


@pytest.mark.parametrize("changes, message", [
    ({"rungs": {"../720p": {"inits": [], "segments": []}}}, "rung"),
    ({"rungs": {"720p": {"inits": ["init-0.mp4"], "segments": ["../../etc/passwd"]}}}, "segment"),
    ({"rungs": {"720p": {"inits": [".hidden"], "segments": []}}}, "init section"),
    ({"rungs": {"720p": {"inits": ["a/b.mp4"], "segments": []}}}, "init section"),
    ({"rungs": {"720p": {"inits": [], "segments": [], "playlist": "/abs.m3u8"}}}, "playlist"),
    ({"rungs": {"720p": {"inits": "init-0.mp4", "segments": []}}}, "lists"),
    ({"rungs": {}}, "no rungs"),
    ({"internal_name": "a/b"}, "stream"),
    ({"session_id": "seven"}, "session_id"),
    ({"started_at": "yesterday"}, "bad time"),
    ({"renditions": "720p"}, "renditions"),
])
def test_a_bad_manifest_is_refused_with_the_reason(changes, message):
    with pytest.raises(BadRecording, match=message):
        vod.read_manifest(manifest(**changes))
    with pytest.raises(BadRecording, match="not a JSON object"):
        vod.read_manifest(["rungs"])


RECORDING = """#EXTM3U
#EXT-X-VERSION:9
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:00.000Z
#EXTINF:1.000,
s0.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:01.000Z
#EXTINF:0.967,
s1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-2.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:30.000Z
#EXTINF:1.000,
s2.m4s
"""


def test_the_recording_playlist_gives_each_segment_its_init_date_and_discontinuity():
    segments = vod.read_recording_playlist(RECORDING)
    assert segments == [
        LiveSegment("s0.m4s", 1.0, "init-0.mp4", T0, False),
        LiveSegment("s1.m4s", 0.967, "init-0.mp4", T0 + timedelta(seconds=1), False),
        LiveSegment("s2.m4s", 1.0, "init-2.mp4", T0 + timedelta(seconds=30), True),
    ]


@pytest.mark.parametrize("text, message", [
    ("#EXTM3U\n#EXTINF:1.0,\ns0.m4s\n", "no EXT-X-MAP"),
    ('#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\ns0.m4s\n', "EXTINF"),
    ('#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:0,\ns0.m4s\n', "EXTINF"),
    ('#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:one,\ns0.m4s\n', "bad EXTINF"),
    ('#EXTM3U\n#EXT-X-MAP:URI="../init-0.mp4"\n#EXTINF:1,\ns0.m4s\n', "init section"),
    ('#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:1,\nhttp://x/s0.m4s\n', "segment"),
])
def test_a_broken_recording_playlist_is_refused(text, message):
    with pytest.raises(BadRecording, match=message):
        vod.read_recording_playlist(text)


def test_a_missing_segment_leaves_a_discontinuity_behind_it():
    segments = live([1, 1, 1, 1])
    kept = vod.keep_present(segments, {"s1.m4s", "s3.m4s"})
    assert [(s.name, s.discontinuity) for s in kept] == [("s1.m4s", False), ("s3.m4s", True)]
    assert vod.keep_present(segments, {"s0.m4s", "s1.m4s", "s2.m4s", "s3.m4s"}) == segments


def test_segment_timing_from_the_fragments():
    # Three 1/3 s fragments (10 samples of 512 ticks at 15360 Hz), the first a keyframe.
    init = parse_init(init_segment())
    data = (video_fragment(1, 0, keyframe=True) + video_fragment(2, 5120)
            + box("styp", b"msdh", u32(0)) + video_fragment(3, 10240))
    assert vod.segment_timing(data, init) == (pytest.approx(1.0), True)
    assert vod.segment_timing(video_fragment(4, 15360), init) == (pytest.approx(1 / 3), False)
    with pytest.raises(BadRecording, match="no fragment"):
        vod.segment_timing(box("free", b"x"), init)


def test_joined_segments_are_one_valid_segment_with_the_boundary_at_the_join():
    """Byte concatenation: the joined group is whole fragments, timestamps continuing, and
    each live segment's bytes start exactly where the one before ends."""
    first = video_fragment(1, 0, keyframe=True) + video_fragment(2, 5120) + video_fragment(3, 10240)
    second = video_fragment(4, 15360, keyframe=True) + video_fragment(5, 20480) + video_fragment(6, 25600)
    joined = first + second
    stream = FragmentStream()
    items = stream.feed(init_segment() + joined) + stream.close()
    fragments = items[1:]
    assert [f.decode_time for f in fragments] == [0, 5120, 10240, 15360, 20480, 25600]
    assert [f.independent for f in fragments] == [True, False, False, True, False, False]
    assert joined[len(first):] == second
    assert vod.segment_timing(joined, parse_init(init_segment())) == (pytest.approx(2.0), True)


def test_classic_segments_find_their_run_and_are_dated_from_it():
    # Two runs: files numbered from their start in tenths of a second since the epoch.
    first_start = int(T0.timestamp() * 10) + 30  # 3 s after the session began
    second_start = first_start + 600  # a minute later
    inits = [f"init-{second_start}-480p.mp4", f"init-{first_start}-480p.mp4"]
    names = [f"seg_{first_start + n}.m4s" for n in range(3)] + [f"seg_{second_start}.m4s",
                                                               f"seg_{second_start + 1}.m4s"]
    durations = {name: 1.0 for name in names}
    del durations[names[1]]  # unreadable: left out
    segments = vod.classic_segments(list(reversed(names)), inits, durations, T0, T0 + timedelta(hours=1))
    assert [s.name for s in segments] == [names[0], names[2], names[3], names[4]]
    assert [s.init for s in segments] == [inits[1], inits[1], inits[0], inits[0]]
    assert [s.discontinuity for s in segments] == [False, True, True, False]  # a gap, a new run
    assert segments[0].started == T0 + timedelta(seconds=3)
    assert segments[1].started == T0 + timedelta(seconds=4)
    assert segments[2].started == T0 + timedelta(seconds=63)
    assert vod.classic_init_for(f"seg_{first_start - 1}.m4s", inits) is None
    assert vod.classic_init_for("s3.m4s", inits) is None


def test_classic_dates_fall_back_to_the_session_when_numbers_are_not_times():
    inits = ["init-5-480p.mp4", "init-10-480p.mp4"]
    names = ["seg_5.m4s", "seg_6.m4s", "seg_10.m4s"]
    segments = vod.classic_segments(names, inits, {n: 2.0 for n in names}, T0, None)
    assert [s.started for s in segments] == [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=4)]
    assert vod.classic_segments(names, inits, {n: 2.0 for n in names}, None)[0].started is None
    assert vod.classic_run_start("init-5-480p.mp4", T0, None) is None
    far = int((T0 + timedelta(days=2)).timestamp() * 10)
    assert vod.classic_run_start(f"init-{far}-480p.mp4", T0, T0 + timedelta(hours=1)) is None


# --- grouping ---------------------------------------------------------------------------------


def durations_of(groups):
    return [round(g.duration, 3) for g in groups]


def test_one_second_segments_make_six_second_ones():
    inits, groups = vod.group_segments(live([1.0] * 20))
    assert inits == ["init-0.mp4"]
    assert durations_of(groups) == [6, 6, 6, 2]
    assert [g.name for g in groups] == ["seg-0.m4s", "seg-1.m4s", "seg-2.m4s", "seg-3.m4s"]
    assert groups[0].sources == [f"s{n}.m4s" for n in range(6)]
    assert groups[3].sources == ["s18.m4s", "s19.m4s"]
    assert [g.started for g in groups] == [T0 + timedelta(seconds=6 * n) for n in range(4)]
    assert not any(g.discontinuity for g in groups)
    # 29.97 fps: 30-frame segments of 1.001 s still group by six.
    assert durations_of(vod.group_segments(live([1.001] * 12))[1]) == [6.006, 6.006]


def test_longer_live_segments_group_to_about_six_seconds():
    assert durations_of(vod.group_segments(live([2.0] * 7))[1]) == [6, 6, 2]
    assert durations_of(vod.group_segments(live([4.0] * 4))[1]) == [8, 8]
    assert durations_of(vod.group_segments(live([9.0] * 2))[1]) == [9, 9]


def test_groups_never_span_a_discontinuity_or_a_new_init():
    segments = live([1.0] * 8) + live([1.0] * 7, init="init-8.mp4", start=8, discontinuity_at={0})
    inits, groups = vod.group_segments(segments)
    assert inits == ["init-0.mp4", "init-8.mp4"]
    assert durations_of(groups) == [6, 2, 6, 1]
    assert [g.init for g in groups] == [0, 0, 1, 1]
    assert [g.discontinuity for g in groups] == [False, False, True, False]
    assert groups[2].sources[0] == "s8.m4s"
    # A new init section without the tag is a new run all the same.
    untagged = live([1.0] * 3) + live([1.0] * 3, init="init-3.mp4", start=3)
    assert [(g.init, g.discontinuity) for g in vod.group_segments(untagged)[1]] == [(0, False), (1, True)]
    # ...and so is a gap in the same run (keep_present marks it).
    gapped = live([1.0] * 3) + live([1.0] * 2, start=4, discontinuity_at={0})
    assert [(g.init, g.discontinuity) for g in vod.group_segments(gapped)[1]] == [(0, False), (0, True)]


def test_a_stray_last_frame_joins_the_group_before_it():
    assert durations_of(vod.group_segments(live([1.0] * 6 + [0.033]))[1]) == [6.033]
    segments = live([1.0] * 6 + [0.033]) + live([1.0] * 2, init="init-7.mp4", start=7, discontinuity_at={0})
    assert durations_of(vod.group_segments(segments)[1]) == [6.033, 2]
    assert durations_of(vod.group_segments(live([0.5]))[1]) == [0.5]  # a run of its own stays


def test_runs_split_where_a_new_run_starts():
    segments = live([1.0] * 8) + live([1.0] * 7, init="init-8.mp4", start=8, discontinuity_at={0})
    _, groups = vod.group_segments(segments)
    assert [[g.index for g in run] for run in vod.runs_of(groups)] == [[0, 1], [2, 3]]


# --- playlists ----------------------------------------------------------------------------------


def two_runs():
    segments = live([1.0] * 8) + live([1.0] * 4 + [0.6], init="init-8.mp4", start=8,
                                      at=T0 + timedelta(seconds=40), discontinuity_at={0})
    return vod.group_segments(segments)[1]


def test_the_vod_playlist_has_every_tag_a_player_needs():
    groups = two_runs()
    text = vod.media_playlist(groups)
    lines = text.splitlines()
    assert lines[:6] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-PLAYLIST-TYPE:VOD",
                         "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert lines[-1] == "#EXT-X-ENDLIST" and text.endswith("\n")
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1 and text.count("#EXT-X-MAP:") == 2
    # The new run's tags come before its first segment: discontinuity, map, date.
    at = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[at + 1:at + 5] == ['#EXT-X-MAP:URI="init-1.mp4"', "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:40.000Z",
                                    "#EXTINF:4.600,", "seg-2.m4s"]
    assert lines[6:10] == ['#EXT-X-MAP:URI="init-0.mp4"', "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:00.000Z",
                           "#EXTINF:6.000,", "seg-0.m4s"]
    parsed = check_playlist(text)
    assert [s.uri for s in parsed.segments] == ["seg-0.m4s", "seg-1.m4s", "seg-2.m4s"]
    assert [s.init for s in parsed.segments] == ["init-0.mp4", "init-0.mp4", "init-1.mp4"]
    assert vod.playlist_duration(groups) == 12.6


@pytest.mark.parametrize("durations", [[6.0, 6.0, 2.0], [6.006, 6.006], [6.4999, 1.0], [6.5, 6.5], [9.0]])
def test_target_duration_covers_every_extinf(durations):
    groups = [VodSegment(index=n, init=0, sources=[f"s{n}.m4s"], duration=d) for n, d in enumerate(durations)]
    text = vod.media_playlist(groups)
    target = int(text.split("#EXT-X-TARGETDURATION:")[1].split("\n")[0])
    extinfs = [float(line[8:-1]) for line in text.splitlines() if line.startswith("#EXTINF:")]
    assert all(round(value) <= target and value <= target for value in extinfs)
    assert target == max(int(-(-value // 1)) for value in extinfs)  # no larger than it must be
    assert "#EXT-X-PROGRAM-DATE-TIME" not in text  # no date known, none written


def test_an_empty_playlist_is_refused():
    with pytest.raises(ValueError):
        vod.media_playlist([])
    with pytest.raises(ValueError):
        vod.vod_master_playlist([])


def test_bandwidths_are_the_peak_and_mean_segment_rates():
    groups = [VodSegment(0, 0, ["a"], 6.0), VodSegment(1, 0, ["b"], 6.0), VodSegment(2, 0, ["c"], 0.2)]
    sizes = {"seg-0.m4s": 750_000, "seg-1.m4s": 1_500_000, "seg-2.m4s": 100_000}
    peak, average = vod.bandwidths(groups, sizes)
    assert peak == 2_000_000  # seg-1; seg-2's 4 Mbit/s over 0.2 s is not a rate anyone streams
    assert average == -(-(2_350_000 * 8) // 12.2)


def test_the_master_lists_rungs_best_first_with_relative_uris():
    text = vod.vod_master_playlist([
        vod.Variant("360p/index.m3u8", 1_300_000, 1_200_000, 640, 360, "avc1.64001e,mp4a.40.2", 30),
        vod.Variant("720p/index.m3u8", 3_900_000, 3_600_000, 1280, 720, "avc1.64001f,mp4a.40.2", 59.94),
    ])
    assert text.splitlines() == [
        "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
        ('#EXT-X-STREAM-INF:BANDWIDTH=3900000,AVERAGE-BANDWIDTH=3600000,RESOLUTION=1280x720,'
         'CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=59.940'),
        "720p/index.m3u8",
        ('#EXT-X-STREAM-INF:BANDWIDTH=1300000,AVERAGE-BANDWIDTH=1200000,RESOLUTION=640x360,'
         'CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=30.000'),
        "360p/index.m3u8",
    ]
    no_rate = vod.vod_master_playlist([vod.Variant("a/index.m3u8", 1, 1, 2, 2, "avc1")])
    assert "FRAME-RATE" not in no_rate


# --- seek previews -----------------------------------------------------------------------------


@pytest.mark.parametrize("duration, interval", [(0, 2), (20, 2), (400, 2), (401, 3), (3600, 18), (36000, 180)])
def test_thumbnails_every_two_seconds_at_most_two_hundred(duration, interval):
    assert vod.thumbnail_interval(duration) == interval
    assert len(vod.thumbnail_cues(duration, interval)) <= 200


def test_cues_cover_the_video_tile_by_tile():
    cues = vod.thumbnail_cues(401, 2)
    assert len(cues) == 201 and vod.sprite_count(cues) == 3
    assert (cues[0].start, cues[0].end, cues[0].sprite, cues[0].x, cues[0].y) == (0, 2, 0, 0, 0)
    assert (cues[9].x, cues[9].y) == (1440, 0)
    assert (cues[10].x, cues[10].y) == (0, 90)
    assert (cues[99].sprite, cues[99].x, cues[99].y) == (0, 1440, 810)
    assert (cues[100].sprite, cues[100].x, cues[100].y) == (1, 0, 0)
    assert (cues[200].start, cues[200].end, cues[200].sprite) == (400, 401, 2)
    assert all(a.end == b.start for a, b in zip(cues, cues[1:]))
    assert vod.thumbnail_cues(20, 2)[-1].end == 20 and len(vod.thumbnail_cues(20, 2)) == 10
    assert vod.thumbnail_cues(0, 2) == [] and vod.sprite_count([]) == 0


def test_the_webvtt_track():
    text = vod.thumbnails_vtt(vod.thumbnail_cues(3.5, 2))
    assert text == ("WEBVTT\n\n"
                    "00:00:00.000 --> 00:00:02.000\nsprite-0.jpg#xywh=0,0,160,90\n\n"
                    "00:00:02.000 --> 00:00:03.500\nsprite-0.jpg#xywh=160,0,160,90\n")
    assert vod.vtt_time(3661.5) == "01:01:01.500" and vod.vtt_time(0.0004) == "00:00:00.000"


def test_the_poster_is_a_tenth_of_the_way_in():
    assert vod.poster_time(20) == 2.0 and vod.poster_time(0) == 0.0
