"""Reconciliation: a session the database calls live but no publisher holds (its publish_done
never came) is closed as a publisher that left; one the ingest server holds, or whose host still
receives media (an nginx reload hides the old worker's publishers), is left alone. Real database
and Redis; nginx-rtmp's statistics from tests/fakestat.py."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from app.extensions import db, get_redis
from app.live.state import LiveKeys, new_internal_name
from app.models import StreamSession
from tests.factories import make_live, make_user
from workers.live.reconcile import EVERY, GHOST_AFTER, Reconciler

# Ghost and expiry delays are date queries (UTC timestamps are stored naive on SQLite).
pytestmark = pytest.mark.both_databases


@pytest.fixture
def reconciler(app):
    return Reconciler(SimpleNamespace(redis=get_redis(), keys=LiveKeys(app.config), id="host-a",
                                      dead_here=lambda owner: owner == "host-dead"))


def live_session(name: str) -> StreamSession:
    session = make_live(make_user(name))
    session.internal_name = new_internal_name()
    session.ingest = "nginx"
    session.ingest_url = "rtmp://127.0.0.1:{rtmp_port}/live/{name}"  # what our nginx's hook says
    db.session.commit()
    return session


def status(session: StreamSession) -> str:
    db.session.rollback()
    return db.session.get(StreamSession, session.id).status


def looks(reconciler: Reconciler, seconds: float) -> list[int]:
    """Every look the reconciler takes over the next `seconds` (a clock of our own)."""
    closed = []
    now = start = max(1000.0, reconciler.next_at)
    while now <= start + seconds:
        closed += reconciler.step(now)
        now += EVERY
    return closed


def test_a_session_nobody_publishes_is_closed_after_the_ghost_delay(app, ingest_stat, reconciler):
    ghost, held = live_session("ghost"), live_session("held")
    ingest_stat.publishing = {held.internal_name}
    assert looks(reconciler, GHOST_AFTER - EVERY) == []  # not at the first look: a publish may be starting
    assert status(ghost) == "live"
    assert looks(reconciler, GHOST_AFTER) == [ghost.id]
    assert status(ghost) == "reconnecting" and status(held) == "live"
    assert not db.session.get(StreamSession, ghost.id).channel.is_live  # viewers see offline at once


def test_media_still_reaching_its_host_keeps_a_session_the_statistics_miss(app, ingest_stat, reconciler):
    """After an nginx reload /stat comes from the new worker; the old one still holds the publisher."""
    session = live_session("reloaded")
    get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps({"input_age": 0.3}), ex=5)
    assert looks(reconciler, 3 * GHOST_AFTER) == []
    assert status(session) == "live"
    get_redis().set(LiveKeys(app.config).stats(session.id), json.dumps({"input_age": 9.0}), ex=5)
    assert looks(reconciler, 2 * GHOST_AFTER) == [session.id]


def test_nothing_is_closed_when_the_statistics_cannot_be_read(app, ingest_stat, reconciler):
    session = live_session("unknown")
    ingest_stat.broken = True
    assert looks(reconciler, 3 * GHOST_AFTER) == []
    assert status(session) == "live"


def test_sessions_of_another_ingest_server_are_left_alone(app, ingest_stat, reconciler):
    srs, remote = live_session("srs"), live_session("remote")
    srs.ingest = "srs"
    remote.ingest_url = "rtmp://10.0.0.9/live/{name}"
    db.session.commit()
    assert looks(reconciler, 3 * GHOST_AFTER) == []
    assert status(srs) == status(remote) == "live"


def test_one_host_reconciles_at_a_time(app, ingest_stat, reconciler):
    other = Reconciler(SimpleNamespace(redis=get_redis(), keys=LiveKeys(app.config), id="host-b",
                                       dead_here=lambda owner: False))
    assert reconciler.lead() and not other.lead() and reconciler.lead()
    get_redis().delete(reconciler.leader_key)  # host-a died: its claim expired
    assert other.lead() and not reconciler.lead()
    # A host restarted on the same machine takes over from its dead predecessor at once.
    get_redis().set(reconciler.leader_key, "host-dead")
    assert reconciler.lead() and not other.lead()


def test_a_session_whose_expiry_job_was_lost_is_ended_all_the_same(app, ingest_stat, reconciler):
    """The expiry job lives in Redis; a Redis that was away or lost its data lost it too."""
    from datetime import timedelta

    from app.live.state import RECONNECT_GRACE
    from app.models import utcnow

    stale, waiting = live_session("stale"), live_session("waiting")
    for session, left in ((stale, RECONNECT_GRACE + timedelta(seconds=15)), (waiting, timedelta(seconds=5))):
        session.status, session.publisher_left_at = "reconnecting", utcnow() - left
    db.session.commit()
    looks(reconciler, EVERY)
    assert status(stale) == "ended" and status(waiting) == "reconnecting"


def test_a_session_ended_while_redis_was_away_gets_its_recording_finished(app, ingest_stat, reconciler, tmp_path):
    """Its finishing job could not be queued; the work directory it removes first is still there."""
    from datetime import timedelta

    app.config["MEDIA_ROOT"] = str(tmp_path)

    from app.jobs import queue
    from app.live.state import work_dir
    from app.models import utcnow

    lost, done = live_session("lost"), live_session("done")
    for session in (lost, done):
        session.status, session.ended_at = "ended", utcnow() - timedelta(minutes=5)
    db.session.commit()
    work_dir(app.config, lost.internal_name).mkdir(parents=True)
    looks(reconciler, EVERY)
    assert [(job.func_name, job.args) for job in queue().jobs] == [("workers.live.finish.finish_session", (lost.id,))]
    looks(reconciler, EVERY)  # not queued again while it waits its turn
    assert len(queue().jobs) == 1
