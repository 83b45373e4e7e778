"""How fast our playlist model renders and parses, against PyPI's `m3u8` when it is installed.

Run: .venv/bin/python bench/playlist_render.py. Two playlists:
- live: what the LL-HLS packager (app.media.llhls) writes after each part: 6 segments of 3 parts
  each listed, a preload hint and 2 rendition reports; rendered by the packager itself (the hot
  path: once per part, about three times a second per rendition) and parsed as the
  blocking-reload endpoint does (`parse_media_playlist`);
- vod: a 2-hour VOD rendition (1,200 segments of 6 s, app.media.vod.media_playlist).
With `m3u8` importable (it is not in requirements: install it into a scratch environment and put
it on PYTHONPATH to compare), it also times `m3u8.loads` and `M3U8.dumps` on the same text and
says, per LL-HLS tag, whether m3u8 writes our lines back byte for byte (`m3u8_same_<TAG>=yes|no`).
Prints `name=value` lines, `render_ours_us=<live render, microseconds>` last.
"""
from __future__ import annotations

import sys
import tempfile
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.media import vod  # noqa: E402 - needs the sys.path line above
from app.media.llhls import RenditionPackager, part_target_for  # noqa: E402 - needs the sys.path line above
from app.media.playlist import (  # noqa: E402 - needs the sys.path line above
    RenditionReport,
    delta_update,
    parse_media,
    parse_media_playlist,
)

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LL_TAGS = ("#EXT-X-SERVER-CONTROL", "#EXT-X-PART-INF", "#EXT-X-PART", "#EXT-X-PRELOAD-HINT",
           "#EXT-X-RENDITION-REPORT", "#EXT-X-SKIP", "#EXT-X-PROGRAM-DATE-TIME", "#EXTINF")


def micros(call: Callable[[], object], number: int) -> float:
    """The best of five runs of `number` calls, per call, in microseconds."""
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def live_packager(directory: Path) -> RenditionPackager:
    reports = [RenditionReport("../480p/index.m3u8", 20, 0), RenditionReport("../360p/index.m3u8", 20, 0)]
    packager = RenditionPackager(directory, part_target=part_target_for(10, 30), segment_min=1.0,
                                 target_duration=1, window=6, part_segments=6, record=False,
                                 reports=lambda: reports, clock=lambda: START)
    packager.add_init(b"ftypmoov")
    for n in range(6 * 3 * 4):  # 24 s of 1 s segments, 3 parts each; the window keeps the last 6
        packager.add_part(b"part", 10 / 30, independent=n % 3 == 0, start=n / 3)
    packager.close()  # the last segment complete: 6 whole segments, each with its 3 parts
    return packager


def vod_segments() -> list[vod.VodSegment]:
    return [vod.VodSegment(index=n, init=0, sources=[f"s{n}.m4s"], duration=6.006,
                           started=START + timedelta(seconds=6.006 * n)) for n in range(1200)]


def tag(line: str) -> str:
    return line.split(":", 1)[0]


def m3u8_same(module: Any, text: str) -> dict[str, bool]:
    """Per LL-HLS tag in `text`: whether m3u8 writes those lines back exactly."""
    written = set(module.loads(text).dumps().splitlines())
    found: dict[str, bool] = {}
    for line in text.splitlines():
        if tag(line) in LL_TAGS:
            found[tag(line)] = found.get(tag(line), True) and line in written
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        packager = live_packager(Path(scratch))
        live = packager.render()
        segments = vod_segments()
        vod_text = vod.media_playlist(segments)
        delta = delta_update(live, 2.0)
        figures: dict[str, str] = {}
        figures["live_lines"] = str(live.count("\n"))
        figures["vod_lines"] = str(vod_text.count("\n"))
        figures["roundtrip_live"] = "yes" if parse_media(live).render() == live else "no"
        figures["roundtrip_vod"] = "yes" if parse_media(vod_text).render() == vod_text else "no"
        figures["render_vod_ours_us"] = f"{micros(lambda: vod.media_playlist(segments), 20):.0f}"
        figures["parse_vod_ours_us"] = f"{micros(lambda: parse_media(vod_text), 20):.0f}"
        figures["parse_ours_us"] = f"{micros(lambda: parse_media(live), 2000):.1f}"
        figures["parse_state_ours_us"] = f"{micros(lambda: parse_media_playlist(live), 2000):.1f}"
        try:
            import m3u8  # type: ignore[import-not-found]  # not in requirements: measured, not adopted
        except ImportError:
            print("m3u8 is not installed: only our figures (pip install m3u8 into a scratch venv and put it "
                  "on PYTHONPATH to compare)")
        else:
            figures["m3u8_version"] = getattr(m3u8, "__version__", "") or _distribution_version("m3u8")
            parsed, parsed_vod = m3u8.loads(live), m3u8.loads(vod_text)
            figures["m3u8_byte_identical_live"] = "yes" if parsed.dumps() == live else "no"
            figures["m3u8_byte_identical_vod"] = "yes" if parsed_vod.dumps() == vod_text else "no"
            for name, same in {**m3u8_same(m3u8, live), **m3u8_same(m3u8, delta)}.items():
                figures[f"m3u8_same_{name.lstrip('#')}"] = "yes" if same else "no"
            figures["render_m3u8_us"] = f"{micros(parsed.dumps, 2000):.1f}"
            figures["parse_m3u8_us"] = f"{micros(lambda: m3u8.loads(live), 200):.1f}"
            figures["render_vod_m3u8_us"] = f"{micros(parsed_vod.dumps, 5):.0f}"
            figures["parse_vod_m3u8_us"] = f"{micros(lambda: m3u8.loads(vod_text), 5):.0f}"
        figures["render_ours_us"] = f"{micros(packager.render, 2000):.1f}"
    for name, value in figures.items():
        print(f"{name}={value}")


def _distribution_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    main()
