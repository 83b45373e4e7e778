"""`flask storage init|check`: set up the object store the config names, and prove it works."""
from __future__ import annotations

import secrets
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from .backends import PUBLIC_PREFIXES, get_storage

# A folder nobody else writes to; `check` leaves nothing behind in it.
PROBE_PREFIX = "storage-check/"


def _describe(exc: Exception) -> str:
    """What went wrong, in words an operator can act on, never holding the secret key."""
    text = f"{type(exc).__name__}: {exc}"
    secret = current_app.config.get("AWS_SECRET_ACCESS_KEY")
    if secret:
        text = text.replace(secret, "***")
    return text


def _where(storage: Any) -> str:  # LocalStorage or S3Storage
    if storage.name == "local":
        return f"local directory {storage.root}"
    return f"bucket {storage.bucket!r} at {storage.endpoint_url or 'AWS S3'}"


def _storage() -> Any:  # LocalStorage or S3Storage, told apart by .name
    try:
        return get_storage()
    except (ValueError, ImportError) as exc:
        raise click.ClickException(f"storage is not configured right: {_describe(exc)}") from None


def _anonymous_read(storage: Any, key: str) -> bool:  # an S3Storage
    """Whether someone without credentials (nginx) can read `key` from the bucket."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import ClientError

    client = boto3.client("s3", endpoint_url=storage.endpoint_url,
                          region_name=storage.client.meta.region_name,
                          config=BotoConfig(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                            retries={"max_attempts": 2}))
    try:
        client.get_object(Bucket=storage.bucket, Key=key)["Body"].close()
        return True
    except ClientError:
        return False


@click.group("storage", help="Object storage: the local directory or the S3 bucket.")
def storage_cli() -> None:
    pass


@storage_cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create the directory or bucket; let anyone read the bucket's public prefixes.

    Safe to run again (`make run` runs it every time). Only thumbnails/, profiles/, categories/
    and hls/ become readable without credentials: recordings (vods/) stay private and nginx
    fetches them through URLs the app signs after its access check.
    """
    storage = _storage()
    try:
        if storage.name == "local":
            storage.root.mkdir(parents=True, exist_ok=True)
            click.echo(f"storage: {_where(storage)} is ready")
            return
        made = storage.ensure_bucket(PUBLIC_PREFIXES)
    except Exception as exc:  # noqa: BLE001 - any failure of the store is the operator's to fix
        raise click.ClickException(f"could not set up the {_where(storage)}: {_describe(exc)}") from None
    click.echo(f"storage: {_where(storage)} {'created' if made else 'exists'}; anonymous reads "
               f"allowed for {', '.join(PUBLIC_PREFIXES)} only")


@storage_cli.command("check")
@with_appcontext
def check_command() -> None:
    """Write, read, list and delete a probe object; on S3 also check what nginx can read."""
    storage = _storage()
    token = secrets.token_hex(8)
    key = f"{PROBE_PREFIX}{token}.txt"
    data = f"cascade storage check {token}\n".encode()
    step = "write"
    try:
        storage.put_bytes(key, data, "text/plain")
        step = "read"
        if storage.get_bytes(key) != data:
            raise click.ClickException(f"storage check failed: {_where(storage)} gave back other bytes")
        step = "list"
        if key not in {obj.key for obj in storage.list(PROBE_PREFIX)}:
            raise click.ClickException(f"storage check failed: {_where(storage)} does not list {key}")
        step = "delete"
        storage.delete(key)
        if storage.exists(key):
            raise click.ClickException(f"storage check failed: {key} is still there after delete")
        if storage.name == "s3":
            step = "read anonymously"
            _check_public_reads(storage, token)
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is the check's answer, said with its step
        raise click.ClickException(f"storage check failed at {step} on the {_where(storage)}: "
                                   f"{_describe(exc)}") from None
    finally:
        try:
            storage.delete(key)
        except Exception:  # noqa: BLE001 - best effort; the failure above is what matters
            pass
    click.echo(f"storage: {_where(storage)} works (write, read, list, delete)")


def _check_public_reads(storage: Any, token: str) -> None:  # an S3Storage
    """nginx reads public prefixes without credentials; anything else must stay closed."""
    public = f"{PUBLIC_PREFIXES[0]}{PROBE_PREFIX.rstrip('/')}-{token}.txt"
    private = f"{PROBE_PREFIX}{token}-private.txt"
    try:
        storage.put_bytes(public, b"public\n", "text/plain")
        storage.put_bytes(private, b"private\n", "text/plain")
        if not _anonymous_read(storage, public):
            raise click.ClickException(
                f"storage check failed: nginx cannot read {public} without credentials; "
                "run `flask storage init` to set the bucket's public-read policy")
        if _anonymous_read(storage, private):
            click.echo(f"warning: {private} is readable without credentials: the bucket is more "
                       "open than Cascade needs (recordings too); keep the store off the public "
                       "network or narrow its policy (`flask storage init` sets the right one)",
                       err=True)
    finally:
        storage.delete(public)
        storage.delete(private)
