"""Ports for the servers tests start in other processes (nginx, gunicorn, S3, SMTP...).

A port found free here is only free until someone else binds it. The kernel's own choice (bind to
port 0) comes from the ephemeral range, which every outgoing connection on the box draws from too,
and two xdist workers starting stacks at once could be handed the same one: a stack test then met
another stack's server on its port (a reset instead of an answer). So each worker picks from a
range of its own below the ephemeral range.
"""
from __future__ import annotations

import os
import random
import socket

LOW, HIGH = 10000, 32768  # below Linux's default ephemeral range (32768-60999)


def worker_range() -> range:
    """This process's ports: its share of LOW..HIGH by xdist worker (all of it without xdist)."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    index = int((os.environ.get("PYTEST_XDIST_WORKER") or "gw0").removeprefix("gw"))
    size = (HIGH - LOW) // count
    return range(LOW + index * size, LOW + (index + 1) * size)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports of this worker's range that nothing listens on right now (held open
    together while they are found, so they differ)."""
    sockets: list[socket.socket] = []
    candidates = list(worker_range())
    random.shuffle(candidates)
    try:
        for port in candidates:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
            if len(sockets) == count:
                return [found.getsockname()[1] for found in sockets]
        raise RuntimeError(f"fewer than {count} free ports in {worker_range()}")
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]
