"""A real ffmpeg ladder packaged as LL-HLS: every playlist written during the run keeps the spec's rules,
and a classic client (ffprobe) still reads the result."""
from __future__ import annotations

import json
import subprocess

from app.media.encoder import X264, Encoder
from app.media.ffmpeg_args import filter_graph, ll_output_args, part_plan
from app.media.ladder import Source, ladder_for
from app.media.llhls import PLAYLIST
from app.media.llladder import MASTER, LadderPackager
from tests.e2e.conftest import require_tool

from .llhls_rules import PlaylistWatcher, check_playlist

SECONDS = 6


def test_live_ladder_playlists_keep_the_rules_and_classic_clients_read_them(tmp_path):
    ffmpeg = require_tool("ffmpeg")
    ffprobe = require_tool("ffprobe")
    rungs = ladder_for(Source(640, 360, 30))
    plans = [part_plan(rung.fps) for rung in rungs]
    announced = []
    ladder = LadderPackager(tmp_path, rungs, plans, target_duration=1,
                            announce=lambda rung, msn, part: announced.append((rung, msn, part)))
    fds = ladder.open_pipes()
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
            # One input with video and audio, as the RTMP pull has (0:v:0 and 0:a:0).
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]",
            "-t", str(SECONDS),
            "-filter_complex", filter_graph(rungs, Encoder(X264), 30, thumbnail=False)]
    for index, (rung, plan, fd) in enumerate(zip(rungs, plans, fds)):
        args += ll_output_args(index, rung, plan, fd, has_audio=True, preset="ultrafast")
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
    for index in range(len(rungs)):
        final = check_playlist((tmp_path / rungs[index].name / PLAYLIST).read_text())
        assert final.ended
        total = sum(segment.duration for segment in final.segments)
        assert abs(total - SECONDS) < 0.5, total
        assert all(0.9 <= s.duration <= 1.1 for s in final.segments[:-1])
    assert (rungs[0].name, 0, 0) in announced and len({rung for rung, _, _ in announced}) == len(rungs)

    # A classic HLS client ignores the LL tags and reads the stream from the master playlist.
    probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream=codec_name,width,height",
                            "-of", "json", str(tmp_path / MASTER)], capture_output=True, text=True,
                           timeout=60)
    assert probe.returncode == 0, probe.stderr
    codecs = {s["codec_name"] for s in json.loads(probe.stdout)["streams"]}
    assert {"h264", "aac"} <= codecs
