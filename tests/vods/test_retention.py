"""Retention: expired VODs by the site default and channel overrides, and the orphan sweep, on
both storage backends (a local directory and a real S3 API on loopback) and both databases."""
from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import select

from app.extensions import db, get_redis
from app.jobs import vod_job_id
from app.models import VOD, StreamSession, utcnow
from app.models.vod import vod_prefix
from app.storage.backends import get_storage
from app.vods import retention
from tests.factories import make_live, make_user

# Retention is date queries (UTC timestamps are stored naive on SQLite).
pytestmark = pytest.mark.both_databases

VOD_FILES = ("master.m3u8", "720p/index.m3u8", "720p/init-0.mp4", "720p/seg-1.m4s", "video.mp4",
             "poster.jpg")


def ended_session(user, *, ended_ago: timedelta = timedelta(0)) -> StreamSession:
    ended = utcnow() - ended_ago
    session = StreamSession(channel=user.channel, internal_name=f"n{uuid.uuid4().hex[:12]}",
                            status="ended", started_at=ended - timedelta(hours=1), ended_at=ended)
    db.session.add(session)
    db.session.commit()
    return session


def make_vod(user, created_at, *, files=VOD_FILES) -> VOD:
    """A VOD row made at `created_at` and its objects in storage."""
    session = ended_session(user)
    prefix = vod_prefix(session.id)
    vod = VOD(channel_id=user.channel.id, session_id=session.id, object_key=prefix + "master.m3u8",
              storage_prefix=prefix, created_at=created_at, title=f"Show {session.id}")
    db.session.add(vod)
    db.session.commit()
    storage = get_storage()
    for name in files:
        storage.put_bytes(prefix + name, b"media", None)
    return vod


def keys(prefix: str = "") -> set[str]:
    return {obj.key for obj in get_storage().list(prefix)}


def vod_ids() -> set[int]:
    return set(db.session.scalars(select(VOD.id)))


def set_retention(user, days):
    user.channel.vod_retention_days = days
    db.session.commit()


# --- expiry ------------------------------------------------------------------------------------


def test_expiry_by_site_default_and_channel_overrides(app):
    now = utcnow()
    default, shorter, longer, forever = (make_user(name) for name in ("dflt", "short", "long", "keep"))
    set_retention(shorter, 7)
    set_retention(longer, 90)
    set_retention(forever, 0)
    expect, keep = [], []
    for user, age, expired in [
        (default, timedelta(days=31), True),
        (default, timedelta(days=30), True),  # exactly N days old: expired
        (default, timedelta(days=30) - timedelta(seconds=1), False),
        (default, timedelta(days=2), False),
        (shorter, timedelta(days=7), True),
        (shorter, timedelta(days=6, hours=23), False),
        (longer, timedelta(days=31), False),  # past the site default, within the channel's own
        (longer, timedelta(days=90, minutes=1), True),
        (forever, timedelta(days=5000), False),
    ]:
        vod = make_vod(user, now - age, files=())
        (expect if expired else keep).append((now - age, vod.id))
    found = retention.expired_vods(now)
    assert [vod.id for vod in found] == [vod_id for _, vod_id in sorted(expect)]  # oldest first
    assert retention.expired_vods(now - timedelta(days=400)) == []


def test_site_default_of_zero_keeps_recordings_unless_a_channel_says_otherwise(make_app, tmp_path):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), VOD_RETENTION_DAYS=0)
    with app.app_context():
        now = utcnow()
        site_default, own = make_user("dflt"), make_user("own")
        set_retention(own, 10)
        make_vod(site_default, now - timedelta(days=4000), files=())
        short = make_vod(own, now - timedelta(days=11), files=())
        assert [vod.id for vod in retention.expired_vods(now)] == [short.id]


@pytest.mark.parametrize("value", [-1, "soon", 3651])
def test_unusable_site_setting_is_a_clear_error_and_deletes_nothing(make_app, tmp_path, value):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), VOD_RETENTION_DAYS=value)
    with app.app_context():
        make_vod(make_user("alice"), utcnow() - timedelta(days=4000))
        with pytest.raises(retention.RetentionSettingError, match="VOD_RETENTION_DAYS"):
            retention.expire_vods()
        assert len(vod_ids()) == 1 and len(keys("vods/")) == len(VOD_FILES)


def test_expire_deletes_objects_then_rows(site):
    now = utcnow()
    alice, bob = make_user("alice"), make_user("bob")
    set_retention(bob, 0)
    old = make_vod(alice, now - timedelta(days=40))
    older = make_vod(alice, now - timedelta(days=50))
    recent = make_vod(alice, now - timedelta(days=3))
    kept_for_good = make_vod(bob, now - timedelta(days=400))
    result = retention.expire_vods(now)
    assert [item.id for item in result.deleted] == [older.id, old.id] and result.failed == []
    assert all(item.objects == len(VOD_FILES) for item in result.deleted)
    assert vod_ids() == {recent.id, kept_for_good.id}
    assert {key.split("/")[1] for key in keys("vods/")} == {str(recent.session_id), str(kept_for_good.session_id)}
    assert retention.expire_vods(now).deleted == []  # a second run finds nothing


def test_expire_goes_on_past_one_failure(site, caplog):
    now = utcnow()
    alice = make_user("alice")
    broken = make_vod(alice, now - timedelta(days=60), files=())
    broken.storage_prefix = "vods/not a key/"  # the store refuses it: a failure we can cause for real
    db.session.commit()
    fine = make_vod(alice, now - timedelta(days=40))
    with caplog.at_level(logging.INFO, logger="app.vods.retention"):
        result = retention.expire_vods(now)
    assert [item.id for item in result.failed] == [broken.id] and "BadKey" in result.failed[0].error
    assert [item.id for item in result.deleted] == [fine.id]
    assert vod_ids() == {broken.id} and keys("vods/") == set()
    assert f"could not delete expired VOD {broken.id}" in caplog.text
    assert f"deleted expired VOD {fine.id}" in caplog.text


def test_expire_dry_run_deletes_nothing(site):
    now = utcnow()
    vod = make_vod(make_user("alice"), now - timedelta(days=31))
    result = retention.expire_vods(now, dry_run=True)
    assert [item.id for item in result.deleted] == [vod.id] and result.dry_run
    assert vod_ids() == {vod.id} and len(keys("vods/")) == len(VOD_FILES)


def test_cli_expire_prints_each_recording(site):
    now = utcnow()
    alice = make_user("alice")
    old = make_vod(alice, now - timedelta(days=31))
    make_vod(alice, now - timedelta(days=1))
    runner = site.test_cli_runner()

    dry = runner.invoke(args=["vods", "expire", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Would delete VOD {old.id} of alice (\u201cShow {old.session_id}\u201d" in dry.output
    assert ("1 expired recording would be deleted (dry run: nothing was deleted); site default: keep 30 days."
            in dry.output)
    assert len(vod_ids()) == 2

    real = runner.invoke(args=["vods", "expire"])
    assert real.exit_code == 0, real.output
    assert f"Deleted VOD {old.id} of alice" in real.output and f"and {len(VOD_FILES)} objects" in real.output
    assert real.output.strip().splitlines()[-1] == "1 expired recording deleted; site default: keep 30 days."
    assert len(vod_ids()) == 1


def test_cli_expire_refuses_an_unusable_site_setting(make_app, tmp_path):
    app = make_app(MEDIA_ROOT=str(tmp_path / "media"), VOD_RETENTION_DAYS=-5)
    result = app.test_cli_runner().invoke(args=["vods", "expire"])
    assert result.exit_code != 0 and "VOD_RETENTION_DAYS is -5" in result.output


# --- orphan sweep ------------------------------------------------------------------------------


class Scene:
    """Objects of every kind, some referred to and some not, all written just now."""

    def __init__(self, app) -> None:
        storage = get_storage()
        self.media = Path(app.config["MEDIA_ROOT"])
        self.alice = make_user("alice")  # records (the default)
        self.bob = make_user("bob")
        self.bob.channel.record = False
        db.session.commit()

        self.vod = make_vod(self.alice, utcnow())  # a VOD: its objects stay
        self.done = db.session.get(StreamSession, self.vod.session_id)
        self.failed = ended_session(self.alice)  # recorded, but no VOD was made
        self.live = make_live(self.alice)
        self.unrecorded = ended_session(self.bob)
        self.ghost = f"ghost{uuid.uuid4().hex[:6]}"  # no session by that name
        for name in (self.done.internal_name, self.failed.internal_name, self.live.internal_name,
                     self.unrecorded.internal_name, self.ghost):
            for file in ("master.m3u8", "720p/s1.m4s", "720p/s2.m4s"):
                storage.put_bytes(f"hls/{name}/{file}", b"live", None)
                local = self.media / "hls" / name / file
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(b"live")
        (self.media / "hls" / self.failed.internal_name / "recording.json").write_text("{}")

        self.orphan_vod = "vods/999999/"  # a VOD job that died before making the row, long ago
        for file in ("master.m3u8", "720p/seg-1.m4s"):
            storage.put_bytes(self.orphan_vod + file, b"x", None)
        self.gone_channel = f"thumbnails/{self.alice.channel.id + 1000}/"
        self.gone_user = f"profiles/{self.alice.id + 1000}/"
        for key in (f"thumbnails/{self.alice.channel.id}/live.jpg", self.gone_channel + "live.jpg",
                    self.gone_channel + "custom-ab.jpg", "thumbnails/featured/x.jpg",
                    f"profiles/{self.alice.id}/avatar-1.jpg", self.gone_user + "avatar-1.jpg"):
            storage.put_bytes(key, b"jpeg", None)
        self.everything = keys()
        self.local_dirs = self.local()

    def local(self) -> set[str]:
        return {p.name for p in (self.media / "hls").iterdir()}

    def vod_job_ids(self, app) -> list[str]:
        return Queue(app.config["RQ_QUEUE"], connection=get_redis()).job_ids


def test_sweep_leaves_everything_younger_than_the_grace_period(site):
    scene = Scene(site)
    for now in (utcnow(), utcnow() + timedelta(hours=23)):
        result = retention.sweep_orphans(now)
        assert result.deleted == [] and result.requeued == [] and result.failed == []
    assert keys() == scene.everything and scene.local() == scene.local_dirs
    assert scene.vod_job_ids(site) == []


def test_sweep_deletes_orphans_of_each_kind_after_the_grace_period(site, caplog):
    scene = Scene(site)
    with caplog.at_level(logging.INFO, logger="app.vods.retention"):
        result = retention.sweep_orphans(utcnow() + timedelta(days=2))
    assert result.failed == []
    assert result.counts == {"vods": 2, "hls": 9, "local-hls": 9, "thumbnails": 2, "profiles": 1,
                             "requeued": 1}
    deleted = {item.where for item in result.deleted if item.kind != "local-hls"}
    assert deleted == {scene.orphan_vod, f"hls/{scene.done.internal_name}/", f"hls/{scene.ghost}/",
                       f"hls/{scene.unrecorded.internal_name}/", scene.gone_channel, scene.gone_user}
    gone = {key for key in scene.everything if any(key.startswith(prefix) for prefix in deleted)}
    assert keys() == scene.everything - gone
    # Kept: the VOD's objects, live output, the failed recording, pictures of existing owners.
    assert {f"hls/{scene.live.internal_name}/master.m3u8", f"hls/{scene.failed.internal_name}/master.m3u8",
            f"{scene.vod.storage_prefix}master.m3u8", f"thumbnails/{scene.alice.channel.id}/live.jpg",
            "thumbnails/featured/x.jpg", f"profiles/{scene.alice.id}/avatar-1.jpg"} <= keys()
    assert scene.local() == {scene.live.internal_name, scene.failed.internal_name}
    assert f"deleted {scene.orphan_vod}: 2 objects (no VOD refers to it)" in caplog.text
    if site.config["STORAGE_BACKEND"] == "local":  # no empty folders left behind
        root = Path(get_storage().root)
        assert not (root / scene.orphan_vod).exists() and not (root / scene.gone_user).exists()


def test_sweep_reenqueues_a_failed_vod_job_once_and_keeps_the_recording(site, caplog):
    scene = Scene(site)
    later = utcnow() + timedelta(days=2)
    with caplog.at_level(logging.WARNING, logger="app.vods.retention"):
        assert retention.sweep_orphans(later).requeued == [scene.failed.id]
    assert f"session {scene.failed.id} ended with a recording but no VOD" in caplog.text
    queue = Queue(site.config["RQ_QUEUE"], connection=get_redis())
    (job,) = queue.jobs
    assert job.id == vod_job_id(scene.failed.id) and job.func_name == "workers.vod.build_vod"
    assert job.args == (scene.failed.id,)
    # The job fails again (here: it is gone from the queue); the sweep does not keep retrying.
    job.delete()
    assert retention.sweep_orphans(later + timedelta(hours=1)).requeued == []
    assert queue.job_ids == []
    assert (scene.media / "hls" / scene.failed.internal_name / "recording.json").exists()
    assert f"hls/{scene.failed.internal_name}/master.m3u8" in keys()


def test_sweep_dry_run_lists_without_deleting_or_enqueueing(site):
    scene = Scene(site)
    later = utcnow() + timedelta(days=2)
    dry = retention.sweep_orphans(later, dry_run=True)
    assert dry.dry_run and dry.requeued == [scene.failed.id]
    assert keys() == scene.everything and scene.local() == scene.local_dirs
    assert scene.vod_job_ids(site) == []
    real = retention.sweep_orphans(later)
    assert [(i.kind, i.where, i.objects) for i in real.deleted] == [(i.kind, i.where, i.objects) for i in dry.deleted]
    assert real.counts == dry.counts


def test_sweep_spares_a_folder_with_a_fresh_object(app):
    """A VOD job writing into an old leftover folder: nothing in it goes until all of it is old.
    (Local storage only: S3 sets LastModified itself, so only here can some objects be aged.)"""
    scene = Scene(app)
    storage = get_storage()
    storage.put_bytes(scene.orphan_vod + "video.mp4", b"new", None)
    old = time.time() - 3 * 86400
    for key in (scene.orphan_vod + "master.m3u8", scene.orphan_vod + "720p/seg-1.m4s"):
        os.utime(storage.path(key), (old, old))
    result = retention.sweep_orphans(utcnow())
    assert scene.orphan_vod not in {item.where for item in result.deleted}
    assert {key for key in keys(scene.orphan_vod)} == {scene.orphan_vod + name for name in
                                                       ("master.m3u8", "720p/seg-1.m4s", "video.mp4")}


def test_sweep_refuses_a_negative_grace(app):
    with pytest.raises(ValueError, match="grace"):
        retention.sweep_orphans(grace=timedelta(hours=-1))


def age_local_scene(scene: Scene, days: float, *, sessions: bool = True) -> None:
    """Make every object of a local-storage scene `days` old, and its sessions' ends too."""
    old = time.time() - days * 86400
    for root in (Path(get_storage().root), scene.media / "hls"):
        for path in root.rglob("*"):
            os.utime(path, (old, old))
    if sessions:
        for session in (scene.done, scene.failed, scene.unrecorded):
            session.ended_at = utcnow() - timedelta(days=days)
        db.session.commit()


def test_sweep_waits_until_a_session_has_been_over_for_the_grace_period(app):
    """Old files of a session that ended a moment ago (a long broadcast) stay: its VOD job may be
    running. Only the output of the session nobody knows goes."""
    scene = Scene(app)
    age_local_scene(scene, 3, sessions=False)
    result = retention.sweep_orphans(utcnow())
    assert {item.where for item in result.deleted if item.kind == "hls"} == {f"hls/{scene.ghost}/"}
    assert scene.local() == scene.local_dirs - {scene.ghost} and result.requeued == []


def test_cli_sweep_prints_what_goes(app):
    scene = Scene(app)
    runner = app.test_cli_runner()
    fresh = runner.invoke(args=["vods", "sweep"])
    assert fresh.exit_code == 0, fresh.output
    assert fresh.output.strip() == ("Deleted objects: vods 0, hls 0, local-hls 0, thumbnails 0, "
                                    "profiles 0; VOD jobs re-enqueued: 0.")
    age_local_scene(scene, 3)

    dry = runner.invoke(args=["vods", "sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Would delete {scene.orphan_vod}: 2 objects (no VOD refers to it)" in dry.output
    assert f"Would delete {scene.gone_channel}: 2 objects (its channel was deleted)" in dry.output
    assert "(its channel does not record)" in dry.output
    assert f"Would re-enqueue the VOD job of session {scene.failed.id}" in dry.output
    assert dry.output.strip().splitlines()[-1] == (
        "Would delete objects: vods 2, hls 9, local-hls 9, thumbnails 2, profiles 1; "
        "VOD jobs to re-enqueue: 1 (dry run: nothing was deleted).")
    assert keys() == scene.everything

    real = runner.invoke(args=["vods", "sweep", "--grace-hours", "48"])
    assert real.exit_code == 0, real.output
    assert f"Deleted {scene.orphan_vod}: 2 objects" in real.output
    assert f"Re-enqueued the VOD job of session {scene.failed.id}" in real.output
    assert real.output.strip().splitlines()[-1] == (
        "Deleted objects: vods 2, hls 9, local-hls 9, thumbnails 2, profiles 1; VOD jobs re-enqueued: 1.")
    assert scene.local() == {scene.live.internal_name, scene.failed.internal_name}

    bad = runner.invoke(args=["vods", "sweep", "--grace-hours", "0"])
    assert bad.exit_code != 0 and "--grace-hours" in bad.output
