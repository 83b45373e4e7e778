"""A broadcast becomes a VOD on the whole box, on each storage backend: publish 20 s over RTMP,
stop; the VOD job makes a private VOD within a minute; its objects are in storage; it plays in
Chromium; publishing opens it to everyone; deleting removes its objects; a VOD job killed
midway is retried into one correct VOD."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests
from rq import Queue, Worker
from rq.job import Job, JobStatus

from app import create_app
from app.extensions import db, get_redis
from app.live.state import hls_dir
from app.media.vod import read_recording_playlist
from app.models import VOD, StreamSession
from app.storage.backends import get_storage
from tests.browser.conftest import SCREENSHOTS, log_in, open_page
from tests.conftest import base_config, wait_for

from .conftest import require_tool
from .test_live import flask
from .test_storage_nginx import logged_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a long enough pass"
# Made by every VOD; the rung folders depend on the source (854x480 gives 480p and 360p).
EXPECTED = {"master.m3u8", "480p/index.m3u8", "360p/index.m3u8", "video.mp4", "poster.jpg",
            "thumbnails.vtt", "sprite-0.jpg"}


@pytest.fixture(scope="module")
def backend(storage_backend) -> str:
    return storage_backend


# The VOD job starts once the reconnect grace is over; 30 s on a real site, 5 s is as good a
# grace here and takes 25 s less for each broadcast.
GRACE = 5


@pytest.fixture(scope="module")
def stack_env(storage_stack_env) -> dict:
    return {**storage_stack_env, "RECONNECT_GRACE_SECONDS": str(GRACE)}


@pytest.fixture(scope="module")
def box(stack, stack_env):
    """The running stack after `flask storage init`, a creator with a stream key, and an app on
    the stack's database and storage for looking behind the scenes."""
    flask(stack, "storage", "init")
    flask(stack, "users", "create", "vodstar", "--password", PASSWORD)
    key = flask(stack, "channels", "key", "vodstar", "--rotate").strip().splitlines()[-1]
    app = create_app({**base_config(stack.env["DATABASE_URL"]), **stack_env,
                      "MEDIA_ROOT": stack.env["MEDIA_ROOT"], "REDIS_URL": stack.env["REDIS_URL"],
                      "RQ_QUEUE": stack.env["RQ_QUEUE"]})
    with app.app_context():
        yield key, get_storage()
        db.session.remove()
        db.engine.dispose()


def broadcast(stack, key: str, seconds: int, log) -> float:
    """Publish an 854x480 test pattern for `seconds` in real time; returns when the publisher left."""
    ffmpeg = require_tool("ffmpeg")
    with open(log, "ab") as out:
        subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                        "-f", "lavfi", "-i", "testsrc2=size=854x480:rate=30", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-c:v", "libx264",
                        "-preset", "ultrafast", "-tune", "zerolatency", "-g", "60", "-c:a", "aac",
                        "-f", "flv", f"rtmp://127.0.0.1:{stack.rtmp_port}/live/{key}"],
                       stdout=out, stderr=subprocess.STDOUT, timeout=seconds + 30, check=True)
    return time.monotonic()


def latest_session() -> StreamSession:
    db.session.expire_all()
    return db.session.scalars(db.select(StreamSession).order_by(StreamSession.id.desc())).first()


def vods_of(session_id: int) -> list[VOD]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(VOD).where(VOD.session_id == session_id)))


def stored(storage, prefix: str) -> set[str]:
    return {obj.key[len(prefix):] for obj in storage.list(prefix)}


def playlist_media(storage, prefix: str) -> set[str]:
    """Every file the VOD's playlists name (segments and init sections), as keys under `prefix`."""
    names = set()
    master = storage.get_bytes(prefix + "master.m3u8").decode()
    for rung_playlist in (line for line in master.splitlines() if line.endswith(".m3u8")):
        rung = rung_playlist.rsplit("/", 1)[0]
        for line in storage.get_bytes(prefix + rung_playlist).decode().splitlines():
            if line.startswith("#EXT-X-MAP:"):
                uri = line.split('URI="', 1)[1].split('"', 1)[0]
                names.add(f"{rung}/{uri}")
            elif line and not line.startswith("#"):
                names.add(f"{rung}/{line}")
    return names


def api_vods(session: requests.Session, stack) -> list[dict]:
    answer = session.get(f"{stack.base_url}/api/v1/channels/vodstar/vods", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_broadcast_becomes_a_private_vod_the_owner_watches_publishes_and_deletes(
        stack, box, backend, browser, tmp_path):
    key, storage = box
    ended = broadcast(stack, key, 20, tmp_path / "publisher.log")
    session = latest_session()
    vod = wait_for(lambda: vods_of(session.id), 60, "the VOD within a minute of the broadcast's end",
                   lambda: stack.log_text()[-4000:])[0]
    ready_after = time.monotonic() - ended
    assert vod.visibility == "private" and 18 <= vod.duration_seconds <= 22, vod.duration_seconds
    prefix = vod.storage_prefix
    objects = stored(storage, prefix)
    assert objects >= EXPECTED, sorted(objects)
    assert playlist_media(storage, prefix) <= objects  # every segment and init the playlists name
    assert vod.size_bytes == sum(obj.size for obj in storage.list(prefix))
    # The live output is gone once the VOD exists (disk and, on S3, the bucket).
    live = f"hls/{session.internal_name}/"
    wait_for(lambda: not list(storage.list(live)) and not os.path.exists(os.path.join(stack.env["MEDIA_ROOT"], live)),
             10, "the live output to be deleted after the VOD was made")

    owner = logged_in(stack, "vodstar")
    anonymous = requests.Session()
    mine = api_vods(owner, stack)
    assert [(item["id"], item["visibility"]) for item in mine] == [(vod.id, "private")]
    assert abs(mine[0]["duration"] - vod.duration_seconds) < 0.01
    assert mine[0]["hls_url"].endswith(f"/vods/{session.id}/master.m3u8")
    assert api_vods(anonymous, stack) == []
    master = f"{stack.base_url}/vods/{session.id}/master.m3u8"
    assert anonymous.get(master, timeout=10).status_code == 404
    assert owner.get(master, timeout=10).status_code == 200
    watch = f"{stack.base_url}/c/vodstar/videos/{vod.id}"
    assert anonymous.get(watch, timeout=10).status_code == 404

    context, page, problems = open_page(browser, stack.base_url, 1280, "dark")
    try:
        log_in(page, "vodstar", PASSWORD)
        # It plays in Chromium, from nginx, through the access check.
        page.goto(watch)
        wait_for(lambda: page.evaluate("document.querySelector('video').currentTime") > 3, 20,
                 "the VOD to play 3 s")
        page.screenshot(path=str(SCREENSHOTS / f"e2e-vod-watch-{backend}.png"), caret="initial")

        # Publish from the manager: everyone can see and fetch it.
        page.goto(f"{stack.base_url}/dashboard/videos")
        row = page.locator(f"#vod-{vod.id}")
        row.get_by_role("button", name="Publish").click()
        row.get_by_role("button", name="Unpublish").wait_for()
        assert [item["id"] for item in api_vods(anonymous, stack)] == [vod.id]
        assert anonymous.get(master, timeout=10).status_code == 200
        assert anonymous.get(watch, timeout=10).status_code == 200

        # Delete, with the confirmation: the objects go, and the URLs with them.
        row.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete video").click()
        page.locator(f"#vod-{vod.id}").wait_for(state="detached")
        assert problems == []
    finally:
        context.close()
    assert vods_of(session.id) == []
    assert list(storage.list(prefix)) == []
    assert anonymous.get(master, timeout=10).status_code == 404
    assert api_vods(owner, stack) == []
    assert key not in stack.log_text()
    print(f"{backend}: VOD ready {ready_after:.1f} s after the publisher left")


def horse_of(stack, job_id: str) -> int | None:
    """The pid of the work horse running `job_id` (a child of the stack's short-job worker)."""
    queue = Queue(stack.env["RQ_QUEUE"], connection=get_redis())
    for worker in Worker.all(queue=queue):
        if worker.get_current_job_id() == job_id:
            # The newest child: the worker forked its scheduler long before this horse.
            newest = subprocess.run(["pgrep", "-n", "-P", str(worker.pid)], capture_output=True, text=True)
            if newest.stdout.strip():
                return int(newest.stdout.strip())
    return None


def test_a_vod_job_killed_midway_is_retried_into_one_correct_vod(stack, box, tmp_path):
    key, storage = box
    broadcast(stack, key, 12, tmp_path / "publisher.log")
    session = latest_session()
    job_id = f"vod-{stack.env['RQ_QUEUE']}-{session.id}"
    # The job starts once the reconnect grace is over and takes well under a second here:
    # look for its work horse often, and kill it as soon as it is there.
    deadline = time.monotonic() + 60
    while (horse := horse_of(stack, job_id)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert horse, "the VOD job did not start within 60 s"
    os.kill(horse, signal.SIGKILL)
    assert vods_of(session.id) == [], "the job finished before it could be killed"
    # What the live host recorded (the VOD is made from it; the job deletes it once the VOD is
    # stored). A busy box may start the live encoder a GOP or two into the broadcast, so the
    # VOD is held to its recording, not to the publisher's 12 s.
    live = hls_dir({"MEDIA_ROOT": stack.env["MEDIA_ROOT"]}, session.internal_name)
    recording = read_recording_playlist((live / "480p" / "recording.m3u8").read_text())
    recorded = sum(segment.duration for segment in recording)
    job = Job.fetch(job_id, connection=get_redis())
    wait_for(lambda: job.get_status(refresh=True) in {JobStatus.SCHEDULED, JobStatus.QUEUED,
                                                       JobStatus.STARTED, JobStatus.FINISHED},
             15, "RQ to schedule the retry")
    vod = wait_for(lambda: vods_of(session.id), 90, "the retried job's VOD",
                   lambda: stack.log_text()[-4000:])[0]
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 30, "the retry to finish")
    assert "Work-horse terminated unexpectedly" in stack.log_text()
    assert len(vods_of(session.id)) == 1, "the retry made a second VOD"
    assert 6 <= recorded <= 14 and abs(vod.duration_seconds - recorded) < 0.1, \
        (vod.duration_seconds, recorded)
    objects = stored(storage, vod.storage_prefix)
    assert objects >= EXPECTED and playlist_media(storage, vod.storage_prefix) <= objects
    assert vod.size_bytes == sum(obj.size for obj in storage.list(vod.storage_prefix))
