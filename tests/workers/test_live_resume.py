"""Where a killed host's output ended in the source's time (workers.live.resume): a real ffmpeg
ladder's parts on disk, and the origin each run notes."""
from __future__ import annotations

import os
import time

import pytest

from app.media.ffmpeg_args import part_plan
from app.media.llladder import LadderPackager
from tests.media.test_llladder import TWO_RUNGS, encode
from workers.live.resume import ORIGIN_FILE, part_end, resume_point, write_origin


@pytest.mark.media
def test_the_resume_point_is_the_runs_origin_plus_its_newest_part(tmp_path):
    out, work = tmp_path / "hls", tmp_path / "work"
    work.mkdir()
    assert resume_point(out, work) is None  # nothing noted, nothing written
    plans = [part_plan(rung.fps) for rung in TWO_RUNGS]
    write_origin(work, 12.5)
    ladder = LadderPackager(out, TWO_RUNGS, plans, target_duration=1)
    encode(ladder, TWO_RUNGS, plans, 2)
    ladder.close()
    end, _ = part_end(out / TWO_RUNGS[0].name)
    assert end == pytest.approx(2.0, abs=0.05)  # two seconds encoded from zero
    assert resume_point(out, work) == pytest.approx(12.5 + end)

    # A run noted after these parts were written has not got as far as a part: unknown.
    time.sleep(0.01)
    write_origin(work, 40.0)
    assert resume_point(out, work) is None
    os.utime(work / ORIGIN_FILE, (0, 0))
    (work / ORIGIN_FILE).write_text("{not json")
    assert resume_point(out, work) is None
