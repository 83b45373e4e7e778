"""The LL-HLS rules (draft-pantos-hls-rfc8216bis §4.4, §6.2) a media playlist set must keep, as checks.

`check_playlist` looks at one playlist; `PlaylistHistory` follows the successive playlists of
one rendition (what a player polling it sees) and checks what must hold between them.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from app.media.playlist import attributes

LL_TAGS = ("#EXT-X-PART:", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-SKIP")


@dataclass
class ParsedSegment:
    msn: int
    parts: list[dict] = field(default_factory=list)
    duration: float | None = None  # EXTINF, when the segment is complete
    uri: str | None = None
    discontinuity: int = 0  # its discontinuity sequence number
    init: str | None = None  # the EXT-X-MAP that applies to it
    program_date: str | None = None  # its EXT-X-PROGRAM-DATE-TIME, as written


@dataclass
class Parsed:
    target_duration: int
    part_target: float | None
    server_control: str | None
    media_sequence: int
    segments: list[ParsedSegment]
    preload_hint: str | None
    ended: bool
    lines: list[str]


def parse(text: str) -> Parsed:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and lines[0] == "#EXTM3U", "a playlist starts with #EXTM3U"
    target = part_target = control = hint = init = None
    sequence = discontinuity = skipped = 0
    segments: list[ParsedSegment] = []
    pending_duration = pending_date = None
    ended = False

    def new_segment() -> ParsedSegment:
        nonlocal pending_date
        segments.append(ParsedSegment(msn=sequence + skipped + len(segments), discontinuity=discontinuity, init=init,
                                      program_date=pending_date))
        pending_date = None
        return segments[-1]

    for line in lines[1:]:
        if line.startswith(("#EXT-X-DISCONTINUITY", "#EXT-X-MAP:", "#EXT-X-PROGRAM-DATE-TIME:")):
            assert not segments or segments[-1].uri is not None or not segments[-1].parts, \
                f"{line.split(':')[0]} belongs before the first part of its segment"
        if line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            assert not segments, "EXT-X-DISCONTINUITY-SEQUENCE comes before the first segment"
            discontinuity = int(line.split(":", 1)[1])
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity += 1
        elif line.startswith("#EXT-X-MAP:"):
            init = attributes(line)["URI"]
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pending_date = line.split(":", 1)[1]
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART-INF:"):
            part_target = float(attributes(line)["PART-TARGET"])
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            control = line
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-SKIP:"):  # a delta update: the segments it skips keep their numbers
            skipped = int(attributes(line)["SKIPPED-SEGMENTS"])
        elif line.startswith("#EXT-X-PART:"):
            if not segments or segments[-1].uri is not None:
                new_segment()
            attrs = attributes(line)
            segments[-1].parts.append({"duration": float(attrs["DURATION"]), "uri": attrs["URI"],
                                       "independent": attrs.get("INDEPENDENT") == "YES"})
        elif line.startswith("#EXTINF:"):
            pending_duration = float(line.split(":", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            hint = attributes(line)["URI"]
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#"):
            if not segments or segments[-1].uri is not None:
                new_segment()
            segments[-1].uri = line
            segments[-1].duration = pending_duration
            pending_duration = None
    assert target is not None, "EXT-X-TARGETDURATION is required"
    return Parsed(target, part_target, control, sequence, segments, hint, ended, lines)


def check_playlist(text: str) -> Parsed:
    """Every rule one playlist must keep on its own; returns the parsed playlist."""
    playlist = parse(text)
    if playlist.ended:
        after = playlist.lines[playlist.lines.index("#EXT-X-ENDLIST") + 1:]
        assert after == [], f"nothing may follow EXT-X-ENDLIST: {after}"
        assert playlist.preload_hint is None, "an ended playlist hints no part"
    for segment in playlist.segments:
        assert segment.init, f"segment {segment.msn} has an EXT-X-MAP"
        if segment.duration is not None:
            assert round(segment.duration) <= playlist.target_duration, \
                f"segment {segment.msn} lasts {segment.duration} s > TARGETDURATION {playlist.target_duration}"
        if not segment.parts:
            continue
        assert playlist.part_target, "parts need EXT-X-PART-INF"
        assert segment.parts[0]["independent"], f"segment {segment.msn} must start with an independent part"
        for number, part in enumerate(segment.parts):
            assert part["duration"] <= playlist.part_target + 1e-9, \
                f"part {segment.msn}.{number} lasts {part['duration']} s > PART-TARGET {playlist.part_target}"
            # The last part of a segment (or the newest of an open one) may be short: it ends at a
            # keyframe. So may an independent one (§4.4.4.9): a passthrough stream's first part,
            # cut early because the publisher's audio ran ahead of its first picture.
            if number < len(segment.parts) - 1 and not part["independent"]:
                assert part["duration"] >= 0.85 * playlist.part_target, \
                    f"non-final part {segment.msn}.{number} lasts {part['duration']} s < 85 % of PART-TARGET"
        if segment.duration is not None:
            assert math.isclose(sum(p["duration"] for p in segment.parts), segment.duration, abs_tol=0.002), \
                f"segment {segment.msn}'s parts add up to its EXTINF"
    if playlist.part_target and not playlist.ended:
        control = playlist.server_control or ""
        assert "CAN-BLOCK-RELOAD=YES" in control
        hold = float(attributes(control)["PART-HOLD-BACK"])
        assert hold >= 3 * playlist.part_target - 1e-9, "PART-HOLD-BACK is at least three PART-TARGETs"
        assert playlist.preload_hint, "a live LL-HLS playlist hints the next part"
        last = playlist.segments[-1]
        # The next part of the open segment, or the next segment's first part (a part keeps the
        # name it was hinted under, even if it turns out to open the next segment).
        expected = f"p{last.msn}.{len(last.parts)}.m4s" if last.duration is None else f"p{last.msn + 1}.0.m4s"
        assert playlist.preload_hint == expected, \
            f"the hint names the next part {expected}, not {playlist.preload_hint}"
    return playlist


class PlaylistHistory:
    """Successive playlists of one rendition: continuity and a constant SERVER-CONTROL."""

    def __init__(self):
        self.previous: Parsed | None = None
        self.count = 0

    def add(self, text: str) -> Parsed:
        playlist = check_playlist(text)
        before = self.previous
        if before is not None:
            assert playlist.server_control == before.server_control or playlist.ended, \
                "every playlist carries the same SERVER-CONTROL"
            assert playlist.part_target == before.part_target, "PART-TARGET never changes"
            assert playlist.media_sequence >= before.media_sequence, "the media sequence never goes back"
            # A segment listed in both must be the same segment.
            old = {s.msn: s for s in before.segments}
            for segment in playlist.segments:
                if segment.msn in old:
                    was = old[segment.msn]
                    assert was.uri is None or was.uri == segment.uri, f"MSN {segment.msn} changed its URI"
                    assert (was.discontinuity, was.init) == (segment.discontinuity, segment.init), \
                        f"MSN {segment.msn} changed its discontinuity sequence number or init section"
            if before.segments and playlist.segments:
                assert playlist.segments[-1].msn >= before.segments[-1].msn
                assert playlist.media_sequence <= before.segments[-1].msn + 1, "no segment vanished unseen"
            # The hint named the part that came next (a player has already asked for it).
            parts = [part["uri"] for segment in playlist.segments for part in segment.parts]
            earlier = [part["uri"] for segment in before.segments for part in segment.parts]
            if before.preload_hint and earlier and earlier[-1] in parts[:-1]:
                following = parts[parts.index(earlier[-1]) + 1]
                assert following == before.preload_hint, \
                    f"{before.preload_hint} was hinted, but the next part is {following}"
        self.previous = playlist
        self.count += 1
        return playlist


class PlaylistWatcher:
    """Reads playlists as a polling player would, on a thread, checking every version it sees.

    `paths` maps a name to a playlist file; `stop()` ends the watch and re-raises the first
    broken rule. `histories[name].count` says how many versions were checked.
    """

    def __init__(self, paths, every: float = 0.02):
        self.paths = dict(paths)
        self.every = every
        self.histories = {name: PlaylistHistory() for name in self.paths}
        self.failures: list[AssertionError] = []
        self._seen: dict = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PlaylistWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop(check=exc[0] is None)

    def _watch(self) -> None:
        while not self._done.is_set():
            for name, path in self.paths.items():
                try:
                    text = path.read_text()
                except FileNotFoundError:
                    continue
                if self._seen.get(name) != text:
                    self._seen[name] = text
                    try:
                        self.histories[name].add(text)
                    except AssertionError as error:
                        self.failures.append(AssertionError(f"{path}: {error}\n{text}"))
                        self._done.set()
                        return
            self._done.wait(self.every)

    def stop(self, check: bool = True) -> None:
        self._done.set()
        self._thread.join(5)
        if check and self.failures:
            raise self.failures[0]
