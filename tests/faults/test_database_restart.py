"""The box on PostgreSQL, restarted under a live stream: the stream plays on (its host carries on
with what the database said last), pages come back by themselves, nothing is refused afterwards."""
from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for

from .conftest import PrivatePostgres, fault

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def postgres():
    server = PrivatePostgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def box_env(postgres) -> dict:
    return {"DATABASE_URL": postgres.url}


def test_postgresql_restarted(box, live, postgres):
    with fault(box, live, "PostgreSQL restart", max_gap=2.5, max_lost=1.0):
        postgres.restart()
        restarted = time.monotonic()
        wait_for(lambda: box.get("/c/faulty")[0] == 200, 20, "the channel page to answer again",
                 lambda: box.log_text())
        print(f"pages answer {time.monotonic() - restarted:.1f} s after PostgreSQL came back")
    assert box.api("faulty")["live"]
