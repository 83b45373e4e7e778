"""The session lease on real Redis: one owner at a time, fencing tokens that only grow, and a holder
cut off from Redis that stops writing before anyone else can take the session."""
from __future__ import annotations

import threading
import time

import pytest

from app.live import lease as lease_module
from app.live.lease import RENEW_EVERY, SAFETY, TTL, Lease, holder
from app.live.state import LiveKeys
from app.media.llhls import PLAYLIST, RenditionPackager, WriteRefused
from tests.conftest import LIVE_TESTS_REDIS_DB
from tests.live.conftest import redis_client
from tests.tcpproxy import Proxy

SESSION = 7


client = redis_client






class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Unreachable:
    """A Redis client whose server is gone: every command fails as a lost connection does."""

    def eval(self, *args):
        from redis.exceptions import ConnectionError

        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


# --- ownership and tokens ---------------------------------------------------------------------

def test_one_owner_at_a_time(redis, keys):
    first = Lease.acquire(redis, keys, SESSION, "box-a")
    assert first is not None and first.token == 1 and first.valid()
    assert Lease.acquire(redis, keys, SESSION, "box-b") is None
    assert holder(redis, keys, SESSION) == ("box-a", 1)
    assert 0 < redis.pttl(keys.lease(SESSION)) <= TTL * 1000


def test_sessions_have_separate_leases(redis, keys):
    assert Lease.acquire(redis, keys, 1, "box-a").token == 1
    assert Lease.acquire(redis, keys, 2, "box-b").token == 1
    assert holder(redis, keys, 3) is None


def test_every_new_owner_gets_a_greater_token(redis, keys):
    tokens = []
    for host_id in ("box-a", "box-b", "box-a"):
        owned = Lease.acquire(redis, keys, SESSION, host_id)
        tokens.append(owned.token)
        owned.release()
        assert not owned.valid() and holder(redis, keys, SESSION) is None
    assert tokens == [1, 2, 3]


def test_tokens_keep_growing_after_redis_lost_its_keys(redis, keys):
    assert Lease.acquire(redis, keys, SESSION, "box-a").token == 1
    Lease.acquire(redis, keys, SESSION, "box-a")  # held: no token used
    redis.delete(keys.lease(SESSION), keys.fence(SESSION))  # a Redis restarted empty
    # The database has seen token 5 (a floor from an earlier life of this Redis).
    assert Lease.acquire(redis, keys, SESSION, "box-b", floor=5).token == 6
    redis.delete(keys.lease(SESSION))
    # A floor below the counter changes nothing.
    assert Lease.acquire(redis, keys, SESSION, "box-c", floor=2).token == 7


def test_a_host_id_with_spaces_still_reads_back(redis, keys):
    Lease.acquire(redis, keys, SESSION, "box a (eu)")
    assert holder(redis, keys, SESSION) == ("box a (eu)", 1)


def test_release_leaves_someone_elses_lease_alone(redis, keys):
    first = Lease.acquire(redis, keys, SESSION, "box-a")
    redis.delete(keys.lease(SESSION))  # expired
    second = Lease.acquire(redis, keys, SESSION, "box-b")
    first.release()
    assert holder(redis, keys, SESSION) == ("box-b", second.token)


def test_release_without_redis_is_quiet():
    gone = Lease(Unreachable(), LiveKeys({"RQ_QUEUE": "x"}), SESSION, "box-a", 1, acquired=0.0)
    gone.release()
    assert not gone.valid()


# --- renewal ----------------------------------------------------------------------------------

def test_renew_extends_the_key_and_the_local_deadline(redis, keys):
    clock = Clock()
    owned = Lease.acquire(redis, keys, SESSION, "box-a", ttl=TTL, clock=clock)
    assert owned.deadline == 1000.0 + TTL - SAFETY
    redis.pexpire(keys.lease(SESSION), 1000)
    clock.now += 5.0
    assert owned.renew() and owned.renewed_at == 1005.0
    assert owned.deadline == 1005.0 + TTL - SAFETY
    assert redis.pttl(keys.lease(SESSION)) > 1000


def test_renew_is_due_every_few_seconds(redis, keys):
    clock = Clock()
    owned = Lease.acquire(redis, keys, SESSION, "box-a", clock=clock)
    clock.now += RENEW_EVERY - 0.01
    assert not owned.due()
    clock.now += 0.01
    assert owned.due()
    owned.renew()
    assert not owned.due()


def test_the_deadline_counts_from_before_the_renewal_was_sent(redis, keys):
    """A slow round trip must not push the deadline past the key's expiry."""
    clock = Clock()

    class Slow:
        def eval(self, *args):
            clock.now += 1.5  # the answer comes 1.5 s after the request left
            return redis.eval(*args)

    owned = Lease.acquire(Slow(), keys, SESSION, "box-a", ttl=TTL, clock=clock)
    assert owned.deadline == 1000.0 + TTL - SAFETY
    assert owned.renew() and owned.deadline == 1001.5 + TTL - SAFETY


def test_valid_ends_at_the_local_deadline_well_before_the_key_expires(redis, keys):
    clock = Clock()
    owned = Lease.acquire(redis, keys, SESSION, "box-a", ttl=3.0, clock=clock)
    key_left = redis.pttl(keys.lease(SESSION)) / 1000
    clock.now = owned.deadline - 0.001
    assert owned.valid()
    clock.now = owned.deadline
    assert not owned.valid()
    # The key outlives the holder's own view by at least SAFETY (less the time this test took).
    assert key_left - (owned.deadline - 1000.0) > SAFETY - 0.5


def test_renew_brings_back_a_key_redis_lost_for_the_same_holder(redis, keys):
    owned = Lease.acquire(redis, keys, SESSION, "box-a", floor=4)
    redis.delete(keys.lease(SESSION), keys.fence(SESSION))  # a Redis restarted empty
    assert owned.renew() and owned.valid()
    assert holder(redis, keys, SESSION) == ("box-a", 5)
    assert redis.pttl(keys.lease(SESSION)) > 0
    assert int(redis.get(keys.fence(SESSION))) == 5  # the next owner gets a greater token
    owned.release()
    assert Lease.acquire(redis, keys, SESSION, "box-b").token == 6


def test_renew_fails_for_good_once_another_host_holds_the_lease(redis, keys):
    owned = Lease.acquire(redis, keys, SESSION, "box-a")
    redis.delete(keys.lease(SESSION))  # expired while box-a was away
    taker = Lease.acquire(redis, keys, SESSION, "box-b")
    assert not owned.renew()
    assert owned.lost and not owned.valid()
    assert holder(redis, keys, SESSION) == ("box-b", taker.token)
    taker.release()
    assert not owned.renew()  # lost stays lost, even with the key free again
    assert holder(redis, keys, SESSION) is None


def test_renew_fails_when_another_host_took_the_lease_and_let_it_go(redis, keys):
    """The key is gone, but not because Redis lost it: a newer owner came and went, so the old
    holder must not come back with its older token."""
    owned = Lease.acquire(redis, keys, SESSION, "box-a")
    redis.delete(keys.lease(SESSION))  # expired while box-a was frozen
    Lease.acquire(redis, keys, SESSION, "box-b").release()
    assert not owned.renew() and not owned.valid()
    assert holder(redis, keys, SESSION) is None


def test_a_redis_error_keeps_the_holder_going_until_its_deadline():
    clock = Clock()
    owned = Lease(Unreachable(), LiveKeys({"RQ_QUEUE": "x"}), SESSION, "box-a", 1, acquired=clock.now,
                  ttl=TTL, clock=clock)
    deadline = owned.deadline
    clock.now += RENEW_EVERY
    assert owned.renew() and owned.valid() and owned.deadline == deadline
    clock.now = deadline
    assert not owned.renew() and owned.lost and not owned.valid()


def test_a_host_alone_keeps_its_lease_through_a_redis_outage(redis, keys):
    """No other live host was there: nobody can take the session over, so the stream goes on."""
    clock = Clock()
    owned = Lease.acquire(redis, keys, SESSION, "box-a", clock=clock, alone=lambda: True)
    owned.redis = Unreachable()
    clock.now = owned.deadline + 30
    assert owned.renew() and owned.valid() and owned.unreachable
    owned.redis = redis
    redis.delete(keys.lease(SESSION))  # the key expired while Redis was out of reach
    assert owned.renew() and owned.valid() and not owned.unreachable
    assert holder(redis, keys, SESSION) == ("box-a", owned.token)
    # Redis answers again: the deadline applies as before.
    clock.now = owned.deadline
    assert not owned.valid()


# --- a holder cut off from Redis ----------------------------------------------------------------

@pytest.fixture
def proxy():
    made = Proxy()
    yield made
    made.refuse()


@pytest.mark.outage
@pytest.mark.parametrize("cut", ["refuse", "go_silent"])
def test_a_holder_cut_off_from_redis_stops_writing_before_another_can_take_the_session(
        redis, keys, proxy, monkeypatch, tmp_path, cut):
    monkeypatch.setattr(lease_module, "SAFETY", 1.0)
    ttl = 3.0
    cut_off = client(f"redis://127.0.0.1:{proxy.port}/{LIVE_TESTS_REDIS_DB}")
    first = Lease.acquire(cut_off, keys, SESSION, "box-a", ttl=ttl)
    assert first is not None and first.renew()
    packager = RenditionPackager(tmp_path, part_target=0.334, segment_min=1.0, target_duration=1,
                                 guard=first.valid)
    packager.add_init(b"ftypmoov")
    packager.add_part(b"part", 0.3, independent=True)  # writes while it holds the lease
    assert Lease.acquire(redis, keys, SESSION, "box-b", ttl=ttl) is None

    # box-a keeps renewing on its own thread, as the host does; through a silent network each try
    # hangs for the client's socket timeout, and valid() must not wait for it.
    stop = threading.Event()

    def keep_renewing() -> None:
        while not stop.is_set() and first.renew():  # errors are swallowed until the deadline
            stop.wait(0.1)

    renewer = threading.Thread(target=keep_renewing, daemon=True)
    getattr(proxy, cut)()
    cut_at = time.monotonic()
    renewer.start()
    stopped_at = taken_at = second = None
    try:
        while taken_at is None and time.monotonic() - cut_at < 4 * ttl:
            if stopped_at is None and not first.valid():
                stopped_at = time.monotonic()
            second = Lease.acquire(redis, keys, SESSION, "box-b", ttl=ttl)
            if second is not None:
                taken_at = time.monotonic()
            time.sleep(0.02)
    finally:
        stop.set()
        proxy.refuse()  # a renewal still hanging in a silent connection fails now
        renewer.join(timeout=3)
        cut_off.close()

    assert taken_at is not None, "box-b never got the session"
    assert stopped_at is not None, "box-a still believed it owned the session when box-b took it"
    assert cut_at < stopped_at < taken_at
    assert taken_at - stopped_at > 0.5  # SAFETY's second, less the round trips it covers
    assert second.token > first.token
    assert not renewer.is_alive() and not first.renew()
    playlist = (tmp_path / PLAYLIST).read_text()
    with pytest.raises(WriteRefused):
        packager.add_part(b"late", 0.3, independent=False)
    assert (tmp_path / PLAYLIST).read_text() == playlist
    assert not (tmp_path / "p0.1.m4s").exists()
