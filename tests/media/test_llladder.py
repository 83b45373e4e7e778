"""A real ffmpeg ladder packaged as LL-HLS: every playlist written during the run keeps the spec's rules,
and a classic client (ffprobe) still reads the result."""
from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from datetime import datetime

import pytest

from app.media.encoder import X264, Encoder
from app.media.ffmpeg_args import filter_graph, ll_output_args, ll_passthrough_args, part_plan, source_time_part_plan
from app.media.ladder import Source, ladder_for, passthrough_rung
from app.media.llhls import PLAYLIST
from app.media.llladder import MASTER, LadderPackager, live_master_playlist
from tests.conftest import wait_for
from tests.e2e.conftest import require_tool

from .llhls_rules import PlaylistWatcher, check_playlist

SECONDS = 6


@pytest.mark.media
def test_live_ladder_playlists_keep_the_rules_and_classic_clients_read_them(tmp_path):
    ffmpeg = require_tool("ffmpeg")
    ffprobe = require_tool("ffprobe")
    rungs = ladder_for(Source(640, 360, 30))
    plans = [part_plan(rung.fps) for rung in rungs]
    announced = []
    ladder = LadderPackager(tmp_path, rungs, plans, target_duration=1,
                            announce=lambda rung, msn, part: announced.append((rung, msn, part)))
    fds = ladder.open_pipes()
    graph = filter_graph(rungs, Encoder(X264), 30, thumbnail=False)
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
            # One input with video and audio, as the RTMP pull has (0:v:0 and 0:a:0).
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]",
            "-t", str(SECONDS),
            "-filter_complex", graph.text]
    for video, rung, plan, fd in zip(graph.rungs, rungs, plans, fds):
        args += ll_output_args(video, rung, plan, fd, has_audio=True, preset="ultrafast")
    process = subprocess.Popen(args, pass_fds=fds, stderr=subprocess.PIPE)
    ladder.start()

    # Watch every rung's playlist as a polling player would, checking each version seen.
    watcher = PlaylistWatcher({index: tmp_path / rung.name / PLAYLIST for index, rung in enumerate(rungs)})
    try:
        with watcher:
            assert process.wait(SECONDS + 30) == 0, process.stderr.read().decode()
            ladder.finish()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        process.stderr.close()
        ladder.finish()
    histories = watcher.histories
    assert ladder.errors == []
    assert all(history.count >= 10 for history in histories.values()), {i: h.count for i, h in histories.items()}

    master = (tmp_path / MASTER).read_text()
    assert master.count("#EXT-X-STREAM-INF:") == len(rungs)
    assert 'CODECS="avc1.' in master and "mp4a.40.2" in master and "FRAME-RATE=30.000" in master
    assert master.count(",CLOSED-CAPTIONS=NONE") == len(rungs)  # a test pattern has no captions
    dates = []
    for index in range(len(rungs)):
        final = check_playlist((tmp_path / rungs[index].name / PLAYLIST).read_text())
        assert final.ended
        total = sum(segment.duration for segment in final.segments)
        assert abs(total - SECONDS) < 0.5, total
        assert all(0.9 <= s.duration <= 1.1 for s in final.segments[:-1])
        # Each segment dated by its first sample: dates advance by the segments' durations.
        moments = [datetime.fromisoformat(s.program_date.replace("Z", "+00:00")) for s in final.segments]
        steps = [(later - earlier).total_seconds() for earlier, later in zip(moments, moments[1:])]
        assert steps == pytest.approx([s.duration for s in final.segments[:-1]], abs=0.0015)
        dates.append([s.program_date for s in final.segments])
    assert all(rung_dates == dates[0] for rung_dates in dates)  # a segment has one date in every rung
    assert (rungs[0].name, 0, 0) in announced and len({rung for rung, _, _ in announced}) == len(rungs)

    # A classic HLS client ignores the LL tags and reads the stream from the master playlist.
    probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_name,width,height",
                            "-of", "json", str(tmp_path / MASTER)], capture_output=True, text=True,
                           timeout=60)
    assert probe.returncode == 0, probe.stderr
    codecs = {s["codec_name"] for s in json.loads(probe.stdout)["streams"]}
    assert {"h264", "aac"} <= codecs


def test_the_master_denies_captions_only_when_the_source_has_none():
    rungs = ladder_for(Source(640, 360, 30))
    codecs = ["avc1.64001e,mp4a.40.2"] * len(rungs)
    assert live_master_playlist(rungs, codecs).count(",CLOSED-CAPTIONS=NONE") == len(rungs)
    assert "CLOSED-CAPTIONS" not in live_master_playlist(rungs, codecs, closed_captions=True)


# --- this run's first playable moment, segment length, passthrough ------------------------------

TWO_RUNGS = ladder_for(Source(854, 480, 30))


def encode(ladder: LadderPackager, rungs, plans, seconds: float, *, ends_well: bool = True) -> None:
    """A test pattern through the real ffmpeg ladder into `ladder`'s pipes, as fast as it encodes."""
    fds = ladder.open_pipes()
    graph = filter_graph(rungs, Encoder(X264), 30, thumbnail=False)
    args = [require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "lavfi", "-i", (f"testsrc2=size=854x480:rate=30:duration={seconds}[out0];"
                                  f"sine=frequency=440:sample_rate=48000:duration={seconds}[out1]"),
            "-filter_complex", graph.text]
    for video, rung, plan, fd in zip(graph.rungs, rungs, plans, fds):
        args += ll_output_args(video, rung, plan, fd, has_audio=True, preset="ultrafast")
    run(ladder, args, fds, ends_well=ends_well)


def run(ladder: LadderPackager, args: list[str], fds: list[int], *, ends_well: bool = True) -> None:
    process = subprocess.Popen(args, pass_fds=fds, stderr=subprocess.PIPE)
    ladder.start()
    try:
        assert (process.wait(20) == 0) is ends_well, process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        process.stderr.close()


class Playable:
    """on_playable's record of what players would find at that moment."""

    def __init__(self, out):
        self.out = out
        self.ladder: LadderPackager | None = None
        self.calls: list[dict] = []

    def __call__(self) -> None:
        self.calls.append({
            "master": (self.out / MASTER).exists(),
            # Segments closed by this run: those resumed from an earlier run's playlist have no parts.
            "closed": [sum(1 for s in packager.segments if s.complete and s.parts)
                       for packager in self.ladder.packagers],
        })


@pytest.mark.media
def test_playable_once_the_master_is_out_and_every_rung_closed_a_segment(tmp_path):
    plans = [part_plan(rung.fps) for rung in TWO_RUNGS]
    playable = Playable(tmp_path)
    ladder = playable.ladder = LadderPackager(tmp_path, TWO_RUNGS, plans, target_duration=1, on_playable=playable)
    encode(ladder, TWO_RUNGS, plans, 3)
    ladder.close()
    assert ladder.errors == [] and ladder.playable
    (call,) = playable.calls
    assert call["master"] and all(closed >= 1 for closed in call["closed"])
    assert min(call["closed"]) == 1  # at the first moment it was true, not later
    assert ladder.longest_segment == pytest.approx(1.0, abs=0.05)


@pytest.mark.media
def test_after_a_restart_playable_waits_for_segments_of_the_new_run(tmp_path):
    plans = [part_plan(rung.fps) for rung in TWO_RUNGS]
    first = LadderPackager(tmp_path, TWO_RUNGS, plans, target_duration=1)
    encode(first, TWO_RUNGS, plans, 2)
    first.close()
    playable = Playable(tmp_path)
    again = playable.ladder = LadderPackager(tmp_path, TWO_RUNGS, plans, target_duration=1, on_playable=playable)
    assert all(packager.segments for packager in again.packagers)  # the earlier run's, resumed
    encode(again, TWO_RUNGS, plans, 3)
    again.close()
    (call,) = playable.calls
    assert call["master"] and min(call["closed"]) == 1


@pytest.mark.media
def test_segment_min_overrides_one_gop_per_segment(tmp_path):
    plans = [part_plan(rung.fps) for rung in TWO_RUNGS]
    ladder = LadderPackager(tmp_path, TWO_RUNGS, plans, target_duration=2, segment_min=2.0)
    encode(ladder, TWO_RUNGS, plans, 5)
    ladder.finish()
    assert ladder.errors == []
    assert ladder.longest_segment == pytest.approx(2.0, abs=0.05)
    for rung in TWO_RUNGS:
        final = check_playlist((tmp_path / rung.name / PLAYLIST).read_text())
        assert [round(s.duration) for s in final.segments] == [2, 2, 1]


@pytest.mark.media
def test_without_the_lease_no_master_and_no_playable(tmp_path):
    plans = [part_plan(rung.fps) for rung in TWO_RUNGS]
    playable = []
    ladder = LadderPackager(tmp_path, TWO_RUNGS, plans, target_duration=1, guard=lambda: False,
                            on_playable=lambda: playable.append(True))
    encode(ladder, TWO_RUNGS, plans, 1, ends_well=False)  # its pipes break: nobody reads them
    ladder.close()
    assert not (tmp_path / MASTER).exists() and playable == []
    assert len(ladder.errors) == len(TWO_RUNGS) and all("no longer owns" in e for e in ladder.errors)
    assert all(list((tmp_path / rung.name).iterdir()) == [] for rung in TWO_RUNGS)


def publisher_flv(path, *, size: str, seconds: int, gop: int, preset: str):
    """`seconds` of what a publisher sends, in FLV: x264 with a keyframe every `gop` frames, and AAC.
    The audio stops before the video: audio past the last frame would come as a tail fragment
    without video, which fmp4 counts as independent (a segment)."""
    subprocess.run([require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds - 0.1}",
                    "-c:v", "libx264", "-preset", preset, "-g", str(gop), "-keyint_min", str(gop),
                    "-sc_threshold", "0", "-c:a", "aac", "-f", "flv", str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Four seconds with a keyframe every 2 s."""
    return publisher_flv(tmp_path_factory.mktemp("passthrough") / "published.flv", size="640x360",
                         seconds=4, gop=60, preset="ultrafast")


@pytest.mark.media
def test_passthrough_is_one_rung_of_the_publishers_own_gops(tmp_path, published):
    source = Source(640, 360, 30, keyframe_interval=2.0)
    rung = passthrough_rung(source)
    plan = source_time_part_plan(rung.fps)  # as the session plans it
    announced = []
    playable = Playable(tmp_path)
    ladder = playable.ladder = LadderPackager(
        tmp_path, [rung], [plan], target_duration=2, segment_min=1.0, fixed_gop=False, on_playable=playable,
        announce=lambda name, msn, part: announced.append((name, msn, part)))
    fds = ladder.open_pipes()
    run(ladder, ll_passthrough_args(str(published), plan, fds[0], live_input=False, progress=None), fds)
    ladder.finish()
    assert ladder.errors == [] and len(playable.calls) == 1
    master = (tmp_path / MASTER).read_text()
    assert master.count("#EXT-X-STREAM-INF:") == 1 and "RESOLUTION=640x360" in master
    assert 'CODECS="avc1.' in master and "mp4a.40.2" in master and "360p/index.m3u8" in master
    final = check_playlist((tmp_path / "360p" / PLAYLIST).read_text())
    # A segment may close at any keyframe after segment_min: here the publisher's, every 2 s.
    assert [round(s.duration, 1) for s in final.segments] == [2.0, 2.0]
    assert ladder.longest_segment == pytest.approx(2.0, abs=0.05)
    assert ("360p", 0, 0) in announced and {name for name, _, _ in announced} == {"360p"}


# --- lower renditions added to a running passthrough ----------------------------------------------

@pytest.fixture(scope="module")
def obs_like(tmp_path_factory):
    """Ten seconds as OBS sends them: veryfast x264 has B-frames; a keyframe every second."""
    return publisher_flv(tmp_path_factory.mktemp("obs") / "obs.flv", size="1280x720", seconds=10,
                         gop=30, preset="veryfast")


def keyframe_times(path) -> list[float]:
    probe = subprocess.run([require_tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
                           capture_output=True, text=True, timeout=30, check=True)
    return [float(line.split(",")[0]) for line in probe.stdout.split() if line.split(",")[1].startswith("K")]


def with_input_options(args: list[str], *options: str) -> list[str]:
    at = args.index("-i")
    return args[:at] + list(options) + args[at:]


def first_decode_time(directory, init_name: str, segment: str) -> float:
    from app.media.fmp4 import Fragment, read_fragments

    data = (directory / init_name).read_bytes() + (directory / segment).read_bytes()
    fragment = next(item for item in read_fragments(io.BytesIO(data)) if isinstance(item, Fragment))
    return fragment.start


@pytest.mark.media
def test_lower_renditions_join_a_running_passthrough_segment_for_segment_and_leave_again(tmp_path, obs_like):
    from app.live.capacity import CostModel, added_rungs
    from app.media.ffmpeg_args import ll_added_rungs_args

    source = Source(1280, 720, 30, keyframe_interval=1.0, video_codec="h264", audio_codec="aac")
    rung = passthrough_rung(source)
    plan = source_time_part_plan(rung.fps)
    ladder = LadderPackager(tmp_path, [rung], [plan], target_duration=1, segment_min=1.0)
    fds = ladder.open_pipes()
    leader = subprocess.Popen(with_input_options(ll_passthrough_args(str(obs_like), plan, fds[0], live_input=False,
                                                                      progress=None), "-re"),
                              pass_fds=fds, stderr=subprocess.PIPE)
    ladder.start()
    follower = None
    watcher = PlaylistWatcher({0: tmp_path / rung.name / PLAYLIST})
    try:
        with watcher:
            wait_for(lambda: ladder.playable, 10, "the passthrough to play")
            granted = added_rungs(source, free_cores=10.0, model=CostModel())
            assert granted is not None and granted.rung_names == ["480p", "360p"]
            rungs = list(granted.plan.rungs)
            plans = [source_time_part_plan(r.fps) for r in rungs]
            # As a second live pull through the relay gets it: from a keyframe, with the
            # publisher's timestamps, a while behind the passthrough's edge.
            start = next(t for t in keyframe_times(obs_like) if t >= 2.0)
            pulled = tmp_path / "pulled.flv"
            subprocess.run([require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-copyts",
                            "-ss", f"{start:.3f}", "-i", str(obs_like), "-c", "copy", "-f", "flv", str(pulled)],
                           check=True, timeout=30)
            wait_for(lambda: ladder._leader_edge >= start + 1.5, 10, "the passthrough to get ahead")
            added_fds = ladder.extend(rungs, plans)
            args = ll_added_rungs_args(str(pulled), rungs, plans, added_fds, preset="ultrafast",
                                       live_input=False, progress=None)
            follower = subprocess.Popen(with_input_options(args, "-re"), pass_fds=added_fds, stderr=subprocess.PIPE)
            ladder.start()
            wait_for(lambda: "480p/index.m3u8" in ((tmp_path / MASTER).read_text()), 10, "the master to list 480p")
            master = (tmp_path / MASTER).read_text()
            assert master.count("#EXT-X-STREAM-INF:") == 3
            assert all((tmp_path / name / PLAYLIST).exists() for name in ("480p", "360p"))
            time.sleep(3)
            assert follower.poll() is None, follower.stderr.read().decode()
            snapshot = {name: (tmp_path / name / PLAYLIST).read_text() for name in ("720p", "480p", "360p")}
            follower.send_signal(signal.SIGINT)
            assert follower.wait(10) in (0, 255)
            ladder.drop_extension()
            assert (tmp_path / MASTER).read_text().count("#EXT-X-STREAM-INF:") == 1
            assert leader.wait(20) == 0, leader.stderr.read().decode()
        ladder.finish()
    finally:
        for process in (leader, follower):
            if process is not None:
                if process.poll() is None:
                    process.kill()
                    process.wait(5)
                process.stderr.close()
        ladder.finish()
    assert ladder.errors == []

    # The passthrough went on as if nothing happened: one run, numbers in a row, no discontinuity.
    final = check_playlist((tmp_path / "720p" / PLAYLIST).read_text())
    assert "#EXT-X-DISCONTINUITY" not in (tmp_path / "720p" / PLAYLIST).read_text()
    assert sum(segment.duration for segment in final.segments) == pytest.approx(10.0, abs=0.3)
    assert watcher.histories[0].count >= 20

    # The added renditions: the same segments under the same numbers and dates, from the same frame.
    leader_state = check_playlist(snapshot["720p"])
    by_msn = {segment.msn: segment for segment in leader_state.segments if segment.duration}
    for name in ("480p", "360p"):
        state = check_playlist(snapshot[name])
        closed = [segment for segment in state.segments if segment.duration]
        assert len(closed) >= 2, snapshot[name]
        for segment in closed:
            twin = by_msn[segment.msn]
            assert segment.program_date == twin.program_date and segment.discontinuity == twin.discontinuity
            assert segment.duration == pytest.approx(twin.duration, abs=0.034)
            assert first_decode_time(tmp_path / name, segment.init, segment.uri) == pytest.approx(
                first_decode_time(tmp_path / "720p", twin.init, twin.uri), abs=0.1)


def test_a_live_run_is_playable_once_it_keeps_the_streams_pace(tmp_path, monkeypatch):
    """A run that starts behind the publisher encodes faster than real time until it catches up;
    a player joining meanwhile would keep that lag for good, so a paced (live) ladder is playable
    only once its leading rung's parts come at the stream's own pace, or after PACE_LIMIT."""
    from app.media import llladder

    clock = [1000.0]
    monkeypatch.setattr(llladder.time, "monotonic", lambda: clock[0])
    plans = [part_plan(rung.fps) for rung in TWO_RUNGS]

    def listed(ladder, parts: int, apart: float, start: float = 0.0) -> float:
        for n in range(parts):
            clock[0] += apart
            ladder._leader_listed(start + 0.2 * (n + 1))
        return start + 0.2 * parts

    live = LadderPackager(tmp_path / "live", TWO_RUNGS, plans, target_duration=1, paced=True)
    assert not live._caught_up()  # nothing listed yet
    edge = listed(live, 10, 0.05)  # a backlog: 0.2 s parts 50 ms apart
    assert not live._caught_up()
    edge = listed(live, 2, 0.2, edge)  # at pace, but the last 3 parts took 0.45 s for 0.6 s
    assert not live._caught_up()
    listed(live, 1, 0.2, edge)  # 0.6 s for 0.6 s
    assert live._caught_up()

    slow = LadderPackager(tmp_path / "slow", TWO_RUNGS, plans, target_duration=1, paced=True)
    edge = listed(slow, 50, 0.1)  # twice the pace: 4.9 s from the first part to the last
    assert not slow._caught_up()
    listed(slow, 2, 0.1, edge)  # never at pace: playable anyway once PACE_LIMIT (5 s) has passed
    assert slow._caught_up()

    assert LadderPackager(tmp_path / "file", TWO_RUNGS, plans, target_duration=1)._caught_up()
