"""tests/ports.py: each xdist worker picks ports from a range of its own, below the ephemeral range."""
import socket

from tests import ports


def test_workers_get_disjoint_ranges_below_the_ephemeral_range(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    found = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        found.append(set(ports.worker_range()))
    assert found[0] and found[1] and not found[0] & found[1]
    assert max(found[0] | found[1]) < 32768


def test_free_ports_are_distinct_and_bindable():
    found = ports.free_ports(5)
    assert len(set(found)) == 5 and all(port in ports.worker_range() for port in found)
    for port in found:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
