"""`flask storage init|check` on the local directory and on a real S3 API on loopback."""
from __future__ import annotations

import json

import pytest

from app.storage.backends import PUBLIC_PREFIXES, S3Storage, get_storage

SECRET = "sekrit-value-that-must-never-show-0123456789"


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["storage", *args])
    return result.exit_code, result.output


@pytest.fixture
def fresh_bucket(s3_server):
    """A bucket name nobody has made yet; the bucket is emptied and deleted after the test."""
    name = s3_server.new_bucket_name()
    storage = S3Storage(name, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                        secret_key=s3_server.secret_key)
    yield name
    if name in {bucket["Name"] for bucket in storage.client.list_buckets()["Buckets"]}:
        storage.delete_keys(obj.key for obj in storage.list())
        storage.client.delete_bucket(Bucket=name)


def test_init_makes_the_local_directory(make_app, tmp_path):
    app = make_app(STORAGE_ROOT=str(tmp_path / "objects"))
    code, output = run(app, "init")
    assert code == 0, output
    assert (tmp_path / "objects").is_dir()
    assert "ready" in output


def test_init_creates_the_bucket_with_public_reads_of_public_prefixes_only(make_app, s3_server, fresh_bucket):
    app = make_app(**s3_server.config(fresh_bucket))
    code, output = run(app, "init")
    assert code == 0, output
    assert "created" in output
    with app.app_context():
        client = get_storage().client
        client.head_bucket(Bucket=fresh_bucket)
        policy = json.loads(client.get_bucket_policy(Bucket=fresh_bucket)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == ["s3:GetObject"]
    assert sorted(statement["Resource"]) == sorted(f"arn:aws:s3:::{fresh_bucket}/{p}*" for p in PUBLIC_PREFIXES)
    assert not any("vods" in resource for resource in statement["Resource"])
    code, output = run(app, "init")  # again: nothing to create, same policy
    assert code == 0 and "exists" in output, output


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_check_writes_reads_and_deletes_a_probe_and_leaves_nothing(make_app, tmp_path, request, backend):
    config = {"STORAGE_ROOT": str(tmp_path / "objects")}
    if backend == "s3":
        config.update(request.getfixturevalue("s3_config"))
    app = make_app(**config)
    assert run(app, "init")[0] == 0
    code, output = run(app, "check")
    assert code == 0, output
    assert "works" in output
    # On S3 it also read a public-prefix probe anonymously (the policy `init` set) and found a
    # private one closed: no warning.
    assert "warning" not in output
    with app.app_context():
        assert list(get_storage().list()) == []


def test_check_fails_clearly_without_showing_the_secret(make_app, s3_server):
    config = {**s3_server.config(s3_server.new_bucket_name()), "AWS_SECRET_ACCESS_KEY": SECRET}
    app = make_app(**config)  # a bucket that does not exist: every write fails
    code, output = run(app, "check")
    assert code == 1
    assert "storage check failed at write" in output and config["S3_BUCKET"] in output
    assert SECRET not in output


def test_a_backend_that_does_not_exist_is_named(make_app):
    app = make_app(STORAGE_BACKEND="ftp")
    for command in ("init", "check"):
        code, output = run(app, command)
        assert code == 1 and "STORAGE_BACKEND 'ftp' is not supported" in output, output


def test_check_fails_when_nginx_could_not_read_public_objects(make_app, s3_config):
    app = make_app(**s3_config)  # the bucket exists but has no public-read policy
    code, output = run(app, "check")
    assert code == 1
    assert "nginx cannot read thumbnails/" in output and "flask storage init" in output


def test_check_warns_when_the_whole_bucket_is_readable(make_app, s3_config):
    app = make_app(**s3_config)
    bucket = s3_config["S3_BUCKET"]
    with app.app_context():
        get_storage().client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                           "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}))
    code, output = run(app, "check")
    assert code == 0, output
    assert "warning:" in output and "readable without credentials" in output
