"""CMCD from players (hls.js sends it as ?CMCD=...) in nginx's HLS log, and never in the cache key:
the same segment asked for with another CMCD value is a cache hit. The bucket is the one HLS
cache nginx keeps (S3 storage); local storage serves from disk, logged the same way."""
from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
import requests

from app.storage.backends import S3Storage
from tests.conftest import wait_for
from tests.e2e.conftest import running_stack, storage_env
from tests.e2e.test_live import flask

pytestmark = pytest.mark.e2e

NAME = "st-00c3cd0000000001"
SEGMENT = b"\x00\x00\x00\x18ftypiso6" + b"cmcd" * 4000
CMCDS = ('bl=21300,br=3200,d=4004,ot=v,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",tb=6000',
         'bl=1800,br=3200,d=4004,ot=v,sid="0b1c8f4a-2d2e-4c5e-9f31-7a4b1c2d3e4f",tb=6000')


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    with storage_env(request, "s3") as env, running_stack(tmp_path_factory.mktemp("cmcd-stack"), env,
                                                          roles=("web", "nginx")) as stack:
        assert "created" in flask(stack, "storage", "init")
        yield stack


def hls_lines(stack) -> list[dict]:
    path = Path(stack.prefix) / "logs" / "hls.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_cmcd_is_logged_and_another_value_is_still_a_cache_hit(stack):
    env = stack.env
    storage = S3Storage(env["S3_BUCKET"], endpoint_url=env["S3_ENDPOINT_URL"],
                        access_key=env["AWS_ACCESS_KEY_ID"], secret_key=env["AWS_SECRET_ACCESS_KEY"])
    uri = f"/hls/{NAME}/720p/s7.m4s"
    storage.put_bytes(uri.removeprefix("/"), SEGMENT)
    for cmcd in CMCDS:
        response = requests.get(f"{stack.base_url}{uri}", params={"CMCD": cmcd}, timeout=10)
        assert response.status_code == 200 and response.content == SEGMENT
    # A request without CMCD is served, and not logged there.
    assert requests.get(f"{stack.base_url}{uri}", timeout=10).content == SEGMENT

    # nginx writes the log every 5 s (buffer=32k flush=5s).
    wait_for(lambda: len(hls_lines(stack)) >= 2, 15, "nginx to write hls.log", stack.log_text)
    lines = [line for line in hls_lines(stack) if line["uri"] == uri]
    assert [line["cache"] for line in lines] == ["MISS", "HIT"]
    assert [urllib.parse.unquote(line["cmcd"]) for line in lines] == list(CMCDS)
    assert all(line["status"] == 200 and line["bytes"] > len(SEGMENT) for line in lines)
    text = (Path(stack.prefix) / "logs" / "hls.log").read_text()
    assert "127.0.0.1" not in text  # what the player says, never who it is
