"""bench/concurrency.py's pure parts: rounds, percentiles, the live edge's gaps, /proc and playlists."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.extensions import get_redis
from app.live import hosts
from app.live.hosts import HostInfo, HostSession
from app.live.state import LiveKeys
from app.media.playlist import parse_media_playlist
from tests.hls.playlists import live_playlist
from tests.httpd import Quiet, Served

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_concurrency", ROOT / "bench" / "concurrency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bench = load_bench()


@pytest.mark.parametrize("listed, most, counts", [
    ("1,5,10", None, [1, 5, 10]),
    (" 3 ,7", None, [3, 7]),
    (None, 1, [1]),
    (None, 20, [1, 5, 10, 15, 20]),
    (None, 12, [1, 5, 10, 12]),
    (None, 5, [1, 5]),
])
def test_publisher_counts(listed, most, counts):
    assert bench.publisher_counts(listed, most) == counts


@pytest.mark.parametrize("listed, most", [("", None), ("0,5", None), ("a", None), (None, 0)])
def test_publisher_counts_refuses_nonsense(listed, most):
    with pytest.raises(ValueError):
        bench.publisher_counts(listed, most)


def test_argument_parsing():
    args = bench.parse_args([])
    assert args.counts == [1, 5, 10] and args.seconds == 30 and not args.dry_run
    assert args.url == "http://127.0.0.1:8080" and args.rtmp == "rtmp://127.0.0.1:1935/live"
    args = bench.parse_args(["--max", "15", "--seconds", "10", "--url", "http://box:8080",
                             "--rtmp", "rtmp://box/live"])
    assert args.counts == [1, 5, 10, 15] and args.seconds == 10 and args.url == "http://box:8080"
    assert bench.parse_args(["-k", "2,4"]).counts == bench.parse_args(["--publishers", "2,4"]).counts == [2, 4]


@pytest.mark.parametrize("argv", [["-k", "1", "--max", "5"], ["--max", "0"], ["-k", "x"], ["--seconds", "0"]])
def test_argument_parsing_refuses(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        bench.parse_args(argv)
    assert exit.value.code == 2


def test_percentile():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert bench.percentile(values, 0.5) == 3.0
    assert bench.percentile(values, 0.95) == 5.0
    assert bench.percentile(values, 0.0) == 1.0
    assert bench.percentile([7.5], 0.95) == 7.5
    assert bench.percentile([], 0.5) is None
    assert bench.percentile(range(1, 101), 0.95) == 95


def test_steady_parts_play():
    # a part every 0.33 s for 30 s, four parts a segment
    observations = [(index / 3, index // 4, index % 4) for index in range(90)]
    progress = bench.playback_progress(observations, until=30.0)
    assert progress.advances == 89 and not progress.went_back
    assert progress.longest_gap == pytest.approx(30.0 - 89 / 3)  # the tail up to the end of the watch


def test_a_stall_longer_than_three_seconds_is_found():
    observations = [(0.0, 10, 0), (0.5, 10, 1), (1.0, 10, 2), (1.5, 10, 2), (3.0, 10, 2), (5.2, 10, 3),
                    (5.5, 11, 0)]
    progress = bench.playback_progress(observations)
    assert progress.longest_gap == pytest.approx(4.2)  # from (10, 2) first seen at 1.0 to 5.2
    assert progress.advances == 4 and not progress.went_back


def test_standing_still_at_the_end_counts():
    observations = [(0.0, 3, 0), (0.4, 3, 1), (0.8, 3, 1)]
    assert bench.playback_progress(observations, until=10.0).longest_gap == pytest.approx(9.6)
    assert bench.playback_progress(observations).longest_gap == pytest.approx(0.4)


def test_going_back_is_flagged():
    observations = [(0.0, 40, 2), (0.5, 40, 3), (1.0, 0, 0), (1.5, 0, 1)]
    progress = bench.playback_progress(observations)
    assert progress.went_back and progress.advances == 1


def test_whole_segments_and_parts_compare():
    # classic HLS lists whole segments (part None); a whole segment comes after its parts
    classic = [(0.0, 5, None), (1.0, 6, None), (2.0, 7, None)]
    assert bench.playback_progress(classic).advances == 2
    mixed = [(0.0, 5, 3), (0.5, 5, None), (1.0, 6, 0)]
    progress = bench.playback_progress(mixed)
    assert progress.advances == 2 and not progress.went_back


def test_no_observations():
    assert bench.playback_progress([], until=5.0).longest_gap == float("inf")
    assert bench.playback_progress([]).advances == 0


def test_parse_stat_with_a_tricky_command_name():
    fields = (["S", "1"] + [str(n) for n in range(5, 14)] + ["1500", "250"] + [str(n) for n in range(16, 22)]
              + ["987654"])
    text = "4242 (ffmpeg (x) y) " + " ".join(fields + ["0"] * 20) + "\n"
    stat = bench.parse_stat(text)
    assert (stat.pid, stat.comm, stat.utime, stat.stime, stat.starttime) == (4242, "ffmpeg (x) y", 1500, 250, 987654)
    assert stat.ticks == 1750


def test_parse_stat_of_a_real_process():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        stat = bench.parse_stat(Path(f"/proc/{child.pid}/stat").read_text())
        assert stat.pid == child.pid and stat.comm.startswith("python")
        assert stat.utime >= 0 and stat.stime >= 0 and stat.starttime > 0
        ours = bench.parse_stat(Path("/proc/self/stat").read_text())
        assert ours.pid == os.getpid() and stat.starttime >= ours.starttime
    finally:
        child.communicate(b"")


BURN = """import sys, time
end = time.process_time() + float(sys.argv[1])
while time.process_time() < end:
    pass
print("done", flush=True)
sys.stdin.read()
"""


def burner(seconds: float, tag: str) -> subprocess.Popen:
    """A process that spends `seconds` of CPU, says so, then waits for its stdin to close."""
    return subprocess.Popen([sys.executable, "-c", BURN, str(seconds), tag], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_cpu_meter_sums_cpu_over_the_window():
    before = burner(0.0, "st-000000000000000a")  # running before the first scan: counted from it
    assert before.stdout.readline() == "done\n"
    meter = bench.CpuMeter()
    meter.sample()
    late = burner(0.6, "st-000000000000000b")    # started after it: counted from its start
    try:
        assert late.stdout.readline() == "done\n"
        meter.sample({late.pid: "st-00000000000000ee"})  # as the live host's stats name an encoder
    finally:
        for child in (before, late):
            child.communicate("")
    window = meter.ended - meter.started
    late_seconds = meter.cores(lambda seen: "st-000000000000000b" in seen.argv) * window
    before_seconds = meter.cores(lambda seen: "st-000000000000000a" in seen.argv) * window
    assert late_seconds == pytest.approx(0.6, abs=0.15)  # the interpreter's start-up counts too
    assert before_seconds < 0.05
    assert meter.cores(lambda seen: "st-00000000000000ee" in seen.streams) * window == late_seconds
    assert meter.found(lambda seen: "st-000000000000000b" in seen.argv) == 1
    assert meter.cores(lambda seen: False) == 0.0


def test_encoder_pids_from_the_live_hosts_stats(app):
    redis, keys = get_redis(), LiveKeys(app.config)
    assert bench.encoder_pids(redis, keys) == {}
    sessions = [HostSession(7, "st-0000000000000007", "a", "passthrough", ["source"], 0.02, "running"),
                HostSession(8, "st-0000000000000008", "b", "ladder", ["720p"], 1.1, "running"),
                HostSession(9, "st-0000000000000009", "c", None, [], 0.0, "starting")]
    hosts.publish(redis, keys, HostInfo(id="box", hostname="box", pid=1, cpu_count=4, capacity_cores=3.4,
                                        hw_sessions=0, encoder="libx264", sessions=sessions))
    redis.set(keys.stats(7), json.dumps({"internal_name": "st-0000000000000007", "ffmpeg_pid": 4242}))
    redis.set(keys.stats(8), json.dumps({"internal_name": "st-0000000000000008", "ffmpeg_pid": None}))
    redis.set(keys.stats(99), json.dumps({"ffmpeg_pid": 5555}))  # no host runs session 99
    assert bench.encoder_pids(redis, keys) == {4242: "st-0000000000000007"}


def test_encoder_pids_without_redis(app):
    from redis import Redis

    assert bench.encoder_pids(Redis.from_url("redis://127.0.0.1:1/0"), LiveKeys(app.config)) == {}


def test_process_matching():
    name = "st-0123456789abcdef"
    assert bench.is_stream_ffmpeg("ffmpeg", ["ffmpeg", "-i", f"rtmp://127.0.0.1:1935/live/{name}"], name)
    assert bench.is_stream_ffmpeg("ffmpeg", ["/usr/bin/ffmpeg", "-i", "pipe:0", f"/srv/media/hls/{name}/720p/x"], name)
    assert not bench.is_stream_ffmpeg("ffmpeg", ["ffmpeg", "-i", "rtmp://127.0.0.1/live/st-ffffffffffffffff"], name)
    assert not bench.is_stream_ffmpeg("python3", ["python3", name], name)
    assert bench.is_live_host(["/work/main/.venv/bin/python", "-m", "workers.live"])
    assert bench.is_live_host([".venv/bin/python", "-u", "-m", "workers.live", "--id", "a"])
    assert not bench.is_live_host(["/bin/sh", "-c", ".venv/bin/python -m workers.live"])
    assert not bench.is_live_host([".venv/bin/python", "-m", "workers", "--queue", "live"])


MASTER = """#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=3628000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2128000,RESOLUTION=854x480
480p/index.m3u8
"""


def test_first_variant():
    assert bench.first_variant(MASTER) == "720p/index.m3u8"
    assert bench.first_variant("#EXTM3U\n") is None
    assert bench.first_variant("<html>not found</html>") is None


def test_playlist_listing():
    text = live_playlist(first_msn=7, segments=3, parts=2)
    uris = bench.listed_uris(text)
    assert uris[0] == "init.mp4" and "p10.1.m4s" in uris and "s9.m4s" in uris
    assert "p10.2.m4s" not in uris  # the preload hint is not there yet
    assert bench.first_media_uri(text) == "s7.m4s"  # segment 7 is listed without parts
    assert bench.first_media_uri(live_playlist(segments=0, parts=1)) == "p0.0.m4s"
    assert bench.first_media_uri("#EXTM3U\n#EXT-X-TARGETDURATION:1\n") is None


def test_next_directive_asks_for_the_part_after_the_edge():
    assert bench.next_directive(parse_media_playlist(live_playlist(first_msn=7, segments=3, parts=2))) == (10, 2)
    # the edge is a complete segment with its parts listed: ask for its next part, which the
    # server answers with the next segment's first
    assert bench.next_directive(parse_media_playlist(live_playlist(first_msn=7, segments=3))) == (9, 4)
    classic = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n#EXTINF:2.0,\nseg_4.m4s\n"
    assert bench.next_directive(parse_media_playlist(classic)) == (5, 0)


def test_internal_name_of():
    assert bench.internal_name_of("/hls/st-0123456789abcdef/master.m3u8") == "st-0123456789abcdef"
    assert (bench.internal_name_of("https://cdn.example/hls/st-0123456789abcdef/master.m3u8?x=1")
            == "st-0123456789abcdef")
    with pytest.raises(ValueError):
        bench.internal_name_of("/hls/st-0123456789abcdef/720p/index.m3u8")


def test_ffmpeg_commands():
    source = Path("/tmp/cascade-bench/x.flv")
    made = bench.source_args(source)
    assert made[-1] == str(source) and made[made.index("-g") + 1] == "60" and "libx264" in made
    assert "testsrc2=size=1280x720:rate=30:duration=60" in made
    assert made[made.index("-f", made.index("-ac")) + 1] == "flv"
    pushed = bench.publisher_args(source, "rtmp://127.0.0.1:1935/live/", "KEY")
    assert pushed[-1] == "rtmp://127.0.0.1:1935/live/KEY"
    assert pushed.index("-re") < pushed.index("-i") and pushed[pushed.index("-c") + 1] == "copy"
    assert pushed[pushed.index("-stream_loop") + 1] == "-1" and pushed.index("-stream_loop") < pushed.index("-i")


# --- a stream watched on a stand-in site: the API, a master, a media playlist that grows ---------

NAME = "st-00000000000000cc"
PART = 0.1  # seconds per part, four parts a segment


class FakeSite:
    """Serves what the bench reads: the channel API, the master, a live media playlist whose edge
    moves with the clock (blocking reloads held until the part asked for), and its parts."""

    def __init__(self, *, blocking: bool, missing_parts: bool = False, stall_after: float | None = None):
        self.blocking, self.missing_parts, self.stall_after = blocking, missing_parts, stall_after
        self.started = time.monotonic()
        site = self

        class Handler(Quiet):
            def do_GET(self):
                status, body = site.answer(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.served = Served(Handler)
        self.url = self.served.url()

    def close(self):
        self.served.close()

    def edge(self) -> int:
        elapsed = time.monotonic() - self.started
        if self.stall_after is not None:
            elapsed = min(elapsed, self.stall_after)
        return int(elapsed / PART)

    def playlist(self) -> str:
        parts = self.edge()
        msn, part = divmod(parts, 4)
        text = live_playlist(first_msn=max(0, msn - 3), segments=min(msn, 3), parts=part + 1,
                             part_duration=PART, skip_until=None)
        return text if self.blocking else text.replace("CAN-BLOCK-RELOAD=YES,", "")

    def answer(self, path: str) -> tuple[int, str]:
        route, _, query = path.partition("?")
        if route == "/api/v1/channels/bench_cc_1":
            return 200, json.dumps({"live": True, "hls_url": f"/hls/{NAME}/master.m3u8", "mode": "passthrough"})
        if route == f"/hls/{NAME}/master.m3u8":
            return 200, MASTER
        if route == f"/hls/{NAME}/720p/index.m3u8":
            asked = dict(pair.split("=") for pair in query.split("&")) if query else {}
            if "_HLS_msn" in asked:
                wanted = int(asked["_HLS_msn"]) * 4 + int(asked.get("_HLS_part", 0))
                deadline = time.monotonic() + 3 * 4 * PART
                while self.edge() < wanted:
                    if time.monotonic() > deadline:
                        return 503, "that part did not appear in time\n"
                    time.sleep(0.01)
            return 200, self.playlist()
        if route.startswith(f"/hls/{NAME}/720p/"):
            return (404, "") if self.missing_parts and route.endswith(".m4s") and "/p" in route else (200, "data")
        return 404, "no such thing\n"


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(bench, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(bench, "API_POLL_SECONDS", 0.05)
    monkeypatch.setattr(bench, "MAX_GAP", 0.6)


def watched(site: FakeSite, tmp_path, seconds: float = 1.5):
    stream = bench.Stream("bench_cc_1", "KEY", site.url, "rtmp://unused/live", tmp_path / "log")
    stream.started = time.monotonic()
    go = threading.Event()
    go.set()
    try:
        stream.run(go, seconds)
    finally:
        site.close()
    return stream


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking-reload", "polling"])
def test_a_live_stream_plays(quick, tmp_path, blocking):
    stream = watched(FakeSite(blocking=blocking), tmp_path)
    assert stream.problem is None and stream.mode == "passthrough" and stream.internal_name == NAME
    assert stream.media_url.endswith(f"/hls/{NAME}/720p/index.m3u8")
    assert 0 <= stream.playable_s <= stream.first_part_s < 1
    assert stream.failed_files == [] and stream.new_files >= 10
    assert stream.progress.advances >= 5 and stream.played


@pytest.mark.outage
def test_parts_that_do_not_answer_fail_the_stream(quick, tmp_path):
    stream = watched(FakeSite(blocking=True, missing_parts=True), tmp_path)
    assert not stream.played and stream.failed_files and stream.failed_files[0].startswith("p")


@pytest.mark.outage
def test_a_stalled_edge_fails_the_stream(quick, tmp_path):
    stream = watched(FakeSite(blocking=True, stall_after=0.5), tmp_path)
    assert stream.problem is None and not stream.played
    assert stream.progress.longest_gap > 0.6


def test_a_channel_that_never_goes_live(quick, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "PLAYABLE_TIMEOUT", 0.3)
    site = FakeSite(blocking=True)
    stream = bench.Stream("bench_cc_2", "KEY", site.url, "rtmp://unused/live", tmp_path / "log")
    stream.started = time.monotonic()
    go = threading.Event()
    go.set()
    try:
        stream.run(go, 1)
    finally:
        site.close()
    assert stream.problem == "not playable within 0 s" and not stream.played and stream.ready.is_set()


@pytest.mark.parametrize("status, ended", [
    ({"live": False, "status": "offline"}, True),
    ({"live": False, "status": "reconnecting"}, False),
    ({"live": False, "status": "starting"}, False),
    ({"live": False}, None),  # an API that says only whether it is live
])
def test_session_ended(status, ended):
    assert bench.session_ended(status) is ended


def test_waiting_for_the_sessions_to_end(monkeypatch):
    answers = {"bench_cc_1": [{"live": True, "status": "live"}, {"live": False, "status": "reconnecting"},
                              None, {"live": False, "status": "offline"}],
               "bench_cc_2": [{"live": False, "status": "offline"}]}
    monkeypatch.setattr(bench, "channel_status", lambda http, site, slug: answers[slug].pop(0))
    slept = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    bench.wait_sessions_ended("http://box", ["bench_cc_1", "bench_cc_2"], stopped=0.0)
    assert answers == {"bench_cc_1": [], "bench_cc_2": []} and slept == [1, 1, 1]  # no grace to sit out


def test_waiting_sits_out_the_grace_where_the_api_cannot_tell(monkeypatch):
    monkeypatch.setattr(bench, "channel_status", lambda http, site, slug: {"live": False})
    slept = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    bench.wait_sessions_ended("http://box", ["bench_cc_1"], stopped=bench.time.monotonic())
    assert len(slept) == 1 and slept[0] > bench.RECONNECT_GRACE.total_seconds()


def test_rounds_wait_for_the_ended_sessions_jobs(redis, request, capsys):
    from rq import Queue

    name = f"bench-jobs-{request.node.name[-20:]}"
    queue = Queue(name, connection=redis)
    try:
        started = time.monotonic()
        bench.wait_jobs_done(redis, name, timeout=5)
        assert time.monotonic() - started < 1  # an idle queue: at once
        queue.enqueue("builtins.print", "a VOD job")
        started = time.monotonic()
        bench.wait_jobs_done(redis, name, timeout=1.5)
        assert time.monotonic() - started >= 1.4
        assert "still busy" in capsys.readouterr().err
    finally:
        queue.delete(delete_jobs=True)
