"""Follow fixtures: a streamer with a stream key, logged-in browsers, and running the fan-out job."""
from __future__ import annotations

import pytest

from app.channels import services as channels
from app.jobs import queue
from app.streams import services as streams
from tests.factories import make_user


@pytest.fixture
def streamer(app):
    user = make_user("alice")
    return user, channels.rotate_stream_key(user.channel)

def go_live(key: str):
    """What the publish hook does, then the live host once the stream plays (the channel is
    announced, and its followers told, only then)."""
    session = streams.go_live(key, ingest="nginx", client_id="1")
    streams.mark_playable(session.id, session.lease_token)
    return session

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
