"""The live host registry on real Redis: heartbeats that expire, and placement on the freest host."""
from __future__ import annotations

import time

from app.live import hosts
from app.live.hosts import HostInfo, HostSession, live_hosts, place, placed_on, publish, withdraw
from app.live.state import LiveKeys


def host(host_id: str, capacity: float = 6.8, reserved: float = 0.0, hw: int = 0, reserved_hw: int = 0,
         **extra) -> HostInfo:
    return HostInfo(id=host_id, hostname=host_id, pid=100, cpu_count=8, capacity_cores=capacity,
                    hw_sessions=hw, encoder="libx264", reserved_cores=reserved, reserved_hw=reserved_hw,
                    **extra)


def test_a_heartbeat_round_trips_with_its_sessions(redis, keys):
    session = HostSession(7, "st-0123456789abcdef", "alice", "passthrough", ["1080p"], 0.02, "running")
    sent = host("box-a", reserved=1.5, load_cores=0.9, calibrated=True, sessions=[session])
    before = time.time()
    publish(redis, keys, sent)
    (found,) = live_hosts(redis, keys)
    assert found == sent and found.sessions == [session]
    assert before <= found.heartbeat_at <= time.time()
    assert 0 < redis.pttl(keys.host("box-a")) <= hosts.HEARTBEAT_TTL * 1000


def test_free_capacity_never_goes_below_zero():
    over = host("box-a", capacity=2.0, reserved=3.0, hw=1, reserved_hw=2)
    assert (over.free_cores, over.free_hw) == (0.0, 0)


def test_hosts_are_listed_most_free_capacity_first(redis, keys):
    for info in (host("box-a", reserved=6.0), host("box-c", reserved=1.0, hw=2),
                 host("box-b", reserved=1.0, hw=2), host("box-d", reserved=1.0, hw=3)):
        publish(redis, keys, info)
    # Free cores first, then free encoder sessions, then the id so the order is stable.
    assert [found.id for found in live_hosts(redis, keys)] == ["box-d", "box-b", "box-c", "box-a"]


def test_a_host_whose_heartbeat_expired_is_dropped_and_forgotten(redis, keys):
    publish(redis, keys, host("box-a"))
    publish(redis, keys, host("box-b"))
    redis.pexpire(keys.host("box-b"), 1)
    time.sleep(0.05)
    assert [found.id for found in live_hosts(redis, keys)] == ["box-a"]
    assert redis.zrange(keys.hosts, 0, -1) == [b"box-a"]


def test_a_withdrawn_host_is_gone_at_once(redis, keys):
    publish(redis, keys, host("box-a"))
    withdraw(redis, keys, "box-a")
    assert live_hosts(redis, keys) == []
    assert not redis.exists(keys.host("box-a"), keys.hosts)


def test_hosts_of_another_site_are_not_listed(redis, keys):
    other = LiveKeys({"RQ_QUEUE": f"{keys.site}-other"})
    try:
        publish(redis, other, host("box-z"))
        assert live_hosts(redis, keys) == []
    finally:
        withdraw(redis, other, "box-z")


def test_place_chooses_the_freest_host_marks_the_placement_and_wakes_the_hosts(redis, keys):
    publish(redis, keys, host("box-busy", reserved=5.0))
    publish(redis, keys, host("box-idle", reserved=0.5))
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.wake)
    try:
        assert pubsub.get_message(timeout=1.0) is None  # the subscription is in place
        assert place(redis, keys, 42) == "box-idle"
        message = pubsub.get_message(timeout=2.0)
    finally:
        pubsub.close()
    # A placement wakes the hosts to look, not a runner to drop its probe (see hosts.PLACED).
    assert message["channel"].decode() == keys.wake and message["data"] == b"placed:42"
    assert placed_on(redis, keys, 42) == "box-idle"
    assert 0 < redis.pttl(keys.placement(42)) <= hosts.PLACEMENT_TTL * 1000
    assert placed_on(redis, keys, 43) is None


def test_without_hosts_the_session_waits_but_the_hosts_are_still_woken(redis, keys):
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.wake)
    try:
        assert pubsub.get_message(timeout=1.0) is None
        assert place(redis, keys, 9) is None
        message = pubsub.get_message(timeout=2.0)
    finally:
        pubsub.close()
    assert message["data"] == b"placed:9"
    assert placed_on(redis, keys, 9) is None


def test_a_placement_lapses_so_other_hosts_may_take_the_session(redis, keys, monkeypatch):
    monkeypatch.setattr(hosts, "PLACEMENT_TTL", 0.05)
    publish(redis, keys, host("box-a"))
    assert place(redis, keys, 5) == "box-a"
    time.sleep(0.1)
    assert placed_on(redis, keys, 5) is None


def test_a_wake_up_names_a_changed_session_but_not_a_placement():
    assert hosts.changed_session(b"42") == 42 and hosts.changed_session("7") == 7
    assert hosts.changed_session(b"placed:42") is None and hosts.changed_session(b"") is None
