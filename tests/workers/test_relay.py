"""The pull relay: spotting the first keyframe in FLV bytes, and a real relay ffmpeg read from a
file (it takes any ffmpeg input), from a FIFO nobody writes to, and from a silent TCP server."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from app.media.ffmpeg_args import relay_args
from tests.conftest import wait_for
from tests.e2e.conftest import ROOT, require_tool
from workers.relay import PullRelay, _runs_relay, flv_from_keyframe, flv_has_keyframe, tag_time

AVC, HEVC, H263 = 7, 12, 2
KEY, INTER = 1, 2
SEQUENCE_HEADER, CODED_FRAME = 0, 1
HEADER = b"FLV\x01\x05" + (9).to_bytes(4, "big") + (0).to_bytes(4, "big")  # + PreviousTagSize0


def tag(kind: int, body: bytes) -> bytes:
    """One FLV tag: type, size, timestamp, stream id, the body, then PreviousTagSize."""
    head = bytes([kind]) + len(body).to_bytes(3, "big") + bytes(4) + bytes(3)
    return head + body + (11 + len(body)).to_bytes(4, "big")


def video(frame_type: int, codec: int, packet_type: int | None = None, payload: bytes = b"\x00" * 8) -> bytes:
    body = bytes([frame_type << 4 | codec])
    if packet_type is not None:
        body += bytes([packet_type]) + bytes(3)  # AVC/HEVC: packet type, composition time
    return tag(9, body + payload)


AUDIO = tag(8, b"\xaf\x01" + b"\x21" * 20)
SCRIPT = tag(18, b"\x02\x00\x0aonMetaData" + b"\x00" * 30)
AVC_HEADER = video(KEY, AVC, SEQUENCE_HEADER)
AVC_KEYFRAME = video(KEY, AVC, CODED_FRAME)


@pytest.mark.parametrize("data", [
    b"", b"FLV", HEADER, b"NOT" + HEADER[3:] + AVC_KEYFRAME,
    HEADER + SCRIPT + AUDIO,
    HEADER + SCRIPT + AVC_HEADER,  # the decoder configuration is no frame
    HEADER + AVC_HEADER + video(INTER, AVC, CODED_FRAME) + AUDIO,
    HEADER + video(KEY, HEVC, SEQUENCE_HEADER),
    HEADER + AVC_HEADER + AVC_KEYFRAME[:11],  # the keyframe's tag header only, no body yet
], ids=["empty", "signature-only", "header-only", "not-flv", "script-and-audio", "avc-sequence-header",
        "inter-frame", "hevc-sequence-header", "keyframe-tag-without-body"])
def test_no_keyframe(data):
    assert not flv_has_keyframe(data)


@pytest.mark.parametrize("data", [
    HEADER + SCRIPT + AVC_HEADER + AUDIO + AVC_KEYFRAME,
    HEADER + AVC_KEYFRAME,
    HEADER + video(KEY, HEVC, CODED_FRAME),
    HEADER + video(KEY, H263),  # codecs without a packet type: a key frame is a key frame
    HEADER + AVC_HEADER + AVC_KEYFRAME[:13],  # arriving: enough to know it is one
    bytearray(HEADER + AVC_KEYFRAME),
], ids=["after-metadata-header-and-audio", "at-once", "hevc", "h263", "partly-arrived", "bytearray"])
def test_keyframe(data):
    assert flv_has_keyframe(data)


def test_a_longer_header_is_skipped_by_its_declared_size():
    long_header = b"FLV\x01\x05" + (13).to_bytes(4, "big") + b"\xff" * 4 + (0).to_bytes(4, "big")
    assert flv_has_keyframe(long_header + AVC_KEYFRAME)
    assert not flv_has_keyframe(long_header + AVC_HEADER)


def tag_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, tag type) of every whole tag in an FLV file."""
    found, offset = [], int.from_bytes(data[5:9], "big") + 4
    while offset + 11 <= len(data):
        size = int.from_bytes(data[offset + 1:offset + 4], "big")
        found.append((offset, data[offset] & 0x1F))
        offset += 11 + size + 4
    return found


@pytest.fixture(scope="module")
def flv_file(tmp_path_factory):
    """Two seconds of H.264 (a keyframe every second) and AAC, as OBS would publish them."""
    ffmpeg = require_tool("ffmpeg")
    path = tmp_path_factory.mktemp("relay") / "out.flv"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
                    "-f", "flv", str(path)], check=True, timeout=60)
    return path


@pytest.mark.media
def test_a_real_stream_has_its_first_keyframe_after_the_decoder_configuration(flv_file):
    data = flv_file.read_bytes()
    videos = [offset for offset, kind in tag_offsets(data) if kind == 9]
    first, second = videos[0], videos[1]
    assert data[first + 11] == KEY << 4 | AVC and data[first + 12] == SEQUENCE_HEADER
    assert data[second + 11] == KEY << 4 | AVC and data[second + 12] == CODED_FRAME
    assert not flv_has_keyframe(data[:second])
    assert not flv_has_keyframe(data[:second + 11])
    assert flv_has_keyframe(data[:second + 13])
    assert flv_has_keyframe(data)


@pytest.fixture
def relays():
    """Relays started by a test, stopped after it whatever happened."""
    started: list[PullRelay] = []

    def start(url: str) -> PullRelay:
        relay = PullRelay(url)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


@pytest.mark.media
def test_head_reads_past_the_first_keyframe_and_probe_describes_the_stream(flv_file, relays):
    relay = relays(str(flv_file))
    head = relay.head(wait=10)
    assert head.startswith(b"FLV") and flv_has_keyframe(head)
    info = relay.probe(wait=10)
    video = next(stream for stream in info["streams"] if stream["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert any(stream["codec_type"] == "audio" and stream["codec_name"] == "aac" for stream in info["streams"])
    assert any(packet.get("flags", "").startswith("K") for packet in info["packets"])


@pytest.mark.media
def test_feed_hands_over_the_head_and_then_the_rest_exactly_once(flv_file, relays, tmp_path):
    whole = subprocess.run(relay_args(str(flv_file)), capture_output=True, check=True, timeout=30).stdout
    relay = relays(str(flv_file))
    head = relay.head(after_keyframe=0.0, size=4096, wait=10)
    assert len(head) > 0 and flv_has_keyframe(head)
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as received, os.fdopen(write_fd, "wb") as sink:
        relay.feed(sink)
        got = received.read()  # until the relay ends and the pump closes the sink
    # From the first picture on (audio the file has before it is dropped), nothing lost or doubled;
    # the end-of-sequence tag ffmpeg ends the file with is left out (a spool file ends with one).
    end_of_sequence = whole[-20:]
    assert end_of_sequence[0] == 9 and end_of_sequence[11:13] == bytes([KEY << 4 | AVC, 2])
    assert got == flv_from_keyframe(whole)[:-20] and got.startswith(flv_from_keyframe(head))
    assert len(got) < len(whole)


@pytest.mark.media
def test_a_stream_that_never_comes_gives_up_after_wait(tmp_path, relays):
    fifo = tmp_path / "never"
    os.mkfifo(fifo)  # nobody writes: ffmpeg waits in open() as for a publisher that never came
    relay = relays(str(fifo))
    started = time.monotonic()
    assert relay.head(wait=0.5) == b""
    assert 0.4 < time.monotonic() - started < 2.0


@pytest.mark.media
def test_cancel_stops_the_wait_for_the_stream(tmp_path, relays):
    fifo = tmp_path / "never"
    os.mkfifo(fifo)
    relay = relays(str(fifo))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert relay.probe(wait=30, cancel=stop.is_set) is None
    assert time.monotonic() - started < 2.0


@pytest.mark.media
def test_connected_sees_the_pull_reach_the_ingest_server(relays):
    ingest = socket.create_server(("127.0.0.1", 0))  # accepts and sends nothing, like nginx-rtmp before a publisher
    port = ingest.getsockname()[1]
    try:
        relay = relays(f"tcp://127.0.0.1:{port}")
        assert relay.connected(port, timeout=5)
        assert not relay.connected(port + 1 if port < 65535 else port - 1, timeout=0.1)
    finally:
        ingest.close()


AAC_CONFIG = tag(8, b"\xaf\x00\x12\x10")


def test_a_consumer_starts_at_the_first_picture_with_the_codec_setup_kept():
    """A pull joined mid-stream: audio and inter frames before the first keyframe are dropped,
    the metadata and both codecs' configuration kept, and everything from the keyframe on."""
    later = AUDIO + video(INTER, AVC, CODED_FRAME)
    joined = HEADER + SCRIPT + AVC_HEADER + AAC_CONFIG + AUDIO + video(INTER, AVC, CODED_FRAME) + AUDIO
    assert flv_from_keyframe(joined + AVC_KEYFRAME + later) == (
        HEADER + SCRIPT + AVC_HEADER + AAC_CONFIG + AVC_KEYFRAME + later)
    assert flv_from_keyframe(joined) == joined  # no picture yet: nothing to cut at
    partial = HEADER + AVC_HEADER + AUDIO + AVC_KEYFRAME[:15]  # the keyframe still arriving
    assert flv_from_keyframe(partial) == HEADER + AVC_HEADER + AVC_KEYFRAME[:15]


def media_tags(data: bytes) -> list[tuple[int, float, bytes]]:
    """(kind, time, body) of every audio and coded video tag: what a decoder gets."""
    found = []
    for offset, kind in tag_offsets(data):
        size = int.from_bytes(data[offset + 1:offset + 4], "big")
        body = data[offset + 11:offset + 11 + size]
        if kind == 8 and body[1:2] == b"\x01" or kind == 9 and body[1:2] == b"\x01":
            found.append((kind, tag_time(data, offset), body))
    return found


HOST = """
import os, sys, time
from pathlib import Path
from workers.relay import PullRelay
relay = PullRelay(sys.argv[1], spool=Path(sys.argv[2]))
relay.feed(open(os.devnull, "wb"))
print(relay.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.media
def test_a_spooling_relay_outlives_its_host_and_the_next_host_resumes_from_its_spool(tmp_path):
    """A host (a real process) runs a spooling relay and is killed -9 mid-stream: the relay goes on
    writing its spool, and the next host adopts it and gets every tag from the keyframe at or
    before where it resumes, through the files the relay writes after that, exactly once."""
    ffmpeg = require_tool("ffmpeg")
    source = tmp_path / "six-seconds.flv"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
                    "-f", "flv", str(source)], check=True, timeout=60)
    whole = subprocess.run(relay_args(str(source)), capture_output=True, check=True, timeout=30).stdout
    fifo, spool = tmp_path / "ingest", tmp_path / "spool"
    os.mkfifo(fifo)
    host = subprocess.Popen([sys.executable, "-c", HOST, str(fifo), str(spool)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    data = source.read_bytes()
    half = len(data) // 2
    with open(fifo, "wb") as ingest:
        ingest.write(data[:half])
        ingest.flush()
        relay_pid = int(host.stdout.readline())
        assert wait_for(lambda: len(list(spool.glob("*.flv"))) >= 2, 10, "the spool to fill")
        host.kill()
        host.wait()
        host.stdout.close()
        assert PullRelay.adopt(spool, "rtmp://elsewhere/live/x", 2.5) is None  # not this stream's
        adopted = PullRelay.adopt(spool, str(fifo), 2.5)
        assert adopted is not None
        relay, start = adopted
        assert relay.pid == relay_pid and relay.running()
        ingest.write(data[half:])  # the relay outlived its host: it still reads the publisher
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(read_fd, "rb") as received, os.fdopen(write_fd, "wb") as sink:
            relay.feed(sink)
            got = received.read()  # until the relay ends and the tail has read the spool
    finally:
        relay.stop()
    # This relay read a FIFO, the reference run a file: their times may differ by a constant.
    keyframes = [time for kind, time, body in media_tags(whole) if kind == 9 and body[0] >> 4 == KEY]
    shift = start - min(keyframes, key=lambda time: abs(time - start))
    assert abs(shift) < 0.05 and 1.5 < start <= 2.5
    frames = [(round(time - shift, 3), body) for kind, time, body in media_tags(got) if kind == 9]
    assert frames[0][0] == round(start - shift, 3) and media_tags(got)[0][0] == 9
    # Every picture from that keyframe to the end, once, in order (times may round apart by 1 ms).
    assert [body for _, body in frames] == [body for kind, time, body in media_tags(whole)
                                            if kind == 9 and time >= start - shift - 0.001]
    assert not spool.exists()


@pytest.mark.media
def test_a_spool_path_the_tee_cannot_take_means_no_spool_not_no_stream(flv_file, tmp_path):
    relay = PullRelay(str(flv_file), spool=tmp_path / "odd:name")
    try:
        assert relay.spool is None and relay.head(wait=10).startswith(b"FLV")
    finally:
        relay.stop()
    assert not (tmp_path / "odd:name").exists()


@pytest.mark.media
def test_a_new_relay_stops_the_one_nobody_adopted_before_it_takes_the_spool(tmp_path):
    fifo, spool = tmp_path / "ingest", tmp_path / "spool"
    os.mkfifo(fifo)  # nobody writes: the relay waits, as for a publisher that never came
    host = subprocess.Popen([sys.executable, "-c", HOST, str(fifo), str(spool)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    orphan = int(host.stdout.readline())
    host.kill()
    host.wait()
    host.stdout.close()
    assert _runs_relay(orphan, spool)  # it outlived its host
    relay = PullRelay(str(fifo), spool=spool)
    try:
        assert not _runs_relay(orphan, spool)  # stopped (a zombie has no command line)
        assert json.loads((spool / "relay.json").read_text())["pid"] == relay.pid
    finally:
        relay.stop()


@pytest.mark.media
def test_a_consumer_that_stops_reading_does_not_age_the_input(tmp_path):
    """The pump reads only as fast as its consumer takes: while it waits on the consumer with data
    in hand, the input is not stale (an encoder slow to read is not a publisher gone); once the
    consumer has taken everything and the publisher sends nothing, it ages."""
    ffmpeg = require_tool("ffmpeg")
    source = tmp_path / "lossless.flv"  # big enough to fill a pipe at once
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=30", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
                    "-qp", "0", "-g", "30", "-f", "flv", str(source)], check=True, timeout=60)
    data = source.read_bytes()
    assert len(data) > 500_000  # a pipe holds 64 KiB
    fifo = tmp_path / "ingest"
    os.mkfifo(fifo)
    read_fd, write_fd = os.pipe()  # the consumer
    relay = PullRelay(str(fifo))
    drained = threading.Event()
    try:
        relay.feed(os.fdopen(write_fd, "wb"))
        with open(fifo, "wb", buffering=0) as ingest:  # once the relay's ffmpeg opens it to read
            writer = threading.Thread(target=ingest.write, args=(data,), daemon=True)
            writer.start()
            time.sleep(3.0)  # the consumer reads nothing: the pump waits on it
            assert relay.received_at is not None and time.monotonic() - relay.received_at > 2.0
            assert relay.input_age() == 0.0

            def drain() -> None:
                with os.fdopen(read_fd, "rb") as consumer:
                    while consumer.read1(1 << 16):
                        drained.set()
            threading.Thread(target=drain, daemon=True).start()
            writer.join(10)
            assert not writer.is_alive() and drained.wait(5)
            # Everything taken, the publisher silent (its connection kept): the input ages.
            assert wait_for(lambda: relay.input_age() >= 1.5, 10, "the input to age")
    finally:
        if not drained.is_set():
            os.close(read_fd)  # frees a pump still waiting on the consumer
        relay.stop()
