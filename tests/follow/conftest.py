"""Follow fixtures: a streamer with a stream key, logged-in browsers, and running the fan-out job."""
from __future__ import annotations

import pytest

from app.channels import services as channels
from app.jobs import queue
from app.streams import services as streams
from tests.conftest import Actions
from tests.factories import PASSWORD, make_user


@pytest.fixture
def streamer(app):
    user = make_user("alice")
    return user, channels.rotate_stream_key(user.channel)


@pytest.fixture
def login(app):
    """A new logged-in test client per call (each one a separate browser)."""
    def factory(username: str):
        client = app.test_client()
        assert Actions(client).login(username, PASSWORD).status_code == 303
        return client
    return factory


def go_live(key: str):
    """What the publish hook does."""
    return streams.go_live(key, ingest="nginx", client_id="1")


def queued_notify_jobs() -> list[tuple]:
    return [tuple(job.args) for job in queue().jobs if job.func_name == "workers.follow.notify_followers"]


def run_notify_jobs() -> int:
    """Run the queued fan-out jobs here, in the test's app, the way a worker would."""
    from app.follow.services import notify_followers

    total = 0
    for job in list(queue().jobs):
        if job.func_name == "workers.follow.notify_followers":
            total += notify_followers(*job.args)
            job.delete()
    return total
