"""Object storage for thumbnails, uploads, live HLS and recordings: a narrow interface with two
backends, a local directory (the default) and S3 through boto3 (MinIO in production).

Keys are relative, slash-separated names such as `thumbnails/12/live.jpg`; callers never touch
paths or buckets. Both backends are served under one URL prefix (STORAGE_URL, `/media/`) by
nginx: from the directory, or through `proxy_pass` to the bucket (media/nginx.conf.j2).
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

if TYPE_CHECKING:
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

from .atomic import write_atomic

_KEY_PART = re.compile(r"^[A-Za-z0-9._-]+$")


# Key folders anyone may read (nginx serves them without asking the app). Everything else, the
# recordings under vods/ above all, is served only after an access check.
PUBLIC_PREFIXES = ("thumbnails/", "profiles/", "categories/", "hls/")


class BadKey(ValueError):
    """A key that could escape the store or that a backend would misread."""


def check_key(key: str, *, prefix: bool = False) -> str:
    """`key` when it is a safe relative name: no `..`, no absolute path, no odd characters.

    With `prefix`, a trailing slash is allowed (`delete_prefix("thumbnails/12/")`).
    """
    if not isinstance(key, str) or not key or len(key) > 512:
        raise BadKey("a storage key is a non-empty string of at most 512 characters")
    body = key[:-1] if prefix and key.endswith("/") else key
    parts = body.split("/")
    if key.startswith("/") or any(not part or part in {".", ".."} or not _KEY_PART.match(part)
                                  for part in parts):
        raise BadKey(f"bad storage key {key!r}: use relative names of letters, digits, '.', '_', '-' "
                     "separated by '/', without '..'")
    return key


class ObjectMissing(FileNotFoundError):
    """`open`, `get_bytes` or `get_file` of a key that holds no object."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # UTC


class Storage(Protocol):
    name: str  # "local" or "s3"

    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str | None = None) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def get_bytes(self, key: str) -> bytes: ...
    def get_file(self, key: str, path: str | os.PathLike[str]) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...
    def url(self, key: str) -> str: ...


# What a key's extension says it is, for backends that store a Content-Type (S3).
CONTENT_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".gif": "image/gif", ".svg": "image/svg+xml", ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/mp4", ".mp4": "video/mp4", ".m4a": "audio/mp4", ".ts": "video/mp2t",
    ".vtt": "text/vtt", ".json": "application/json", ".txt": "text/plain",
}


def content_type_for(key: str, given: str | None = None) -> str:
    return given or CONTENT_TYPES.get(os.path.splitext(key)[1].lower(), "application/octet-stream")


class LocalStorage:
    """Objects as files under `root`, served by nginx at `base_url` (see media/nginx.conf.j2).

    Writes go to a temporary file in the same directory and are renamed into place, so a
    reader (nginx, another worker) never sees half an object. `content_type` is not stored:
    nginx derives it from the key's extension.
    """

    name = "local"

    def __init__(self, root: str | os.PathLike[str], base_url: str = "/media/") -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        write_atomic(self.path(key), fill)  # mode 0644: nginx's workers read it

    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        def fill(handle: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle)
        self._write(key, fill)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(key, lambda handle: handle.write(data))

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectMissing(key) from exc

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with self.open(key) as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size if self.path(key).is_file() else None
        except FileNotFoundError:
            return None

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix`, in key order (temporary files excluded)."""
        if prefix:
            check_key(prefix, prefix=True)
        parent = prefix.rpartition("/")[0] if prefix else ""
        base = self.root / parent if parent else self.root
        if not base.is_dir():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix) or path.name.startswith("."):
                continue
            info = path.stat()
            yield StoredObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (a folder such as `vod/12/`)."""
        check_key(prefix, prefix=True)
        base = self.root / prefix
        count = 0
        if prefix.endswith("/"):
            if base.is_dir():
                count = sum(1 for p in base.rglob("*") if p.is_file())
                shutil.rmtree(base, ignore_errors=True)
            return count
        parent, _, start = prefix.rpartition("/")
        directory = self.root / parent if parent else self.root
        if not directory.is_dir():
            return 0
        for entry in directory.iterdir():
            if entry.name.startswith(start):
                if entry.is_dir():
                    count += sum(1 for p in entry.rglob("*") if p.is_file())
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                    count += 1
        return count

    def url(self, key: str) -> str:
        return self.base_url + check_key(key)


@dataclass(frozen=True)
class StoreTimeouts:
    """How long an S3 client waits (seconds) and how often botocore tries a request in all.

    The defaults suit recordings and pictures, where waiting beats failing."""
    connect: float = 5
    read: float = 60
    attempts: int = 5


# Live HLS (the live host's uploads, the web's reads of playlists and parts) fails fast instead:
# a part is a third of a second of video, and with the defaults a store that accepts connections
# and never answers would hold an upload, and the viewers waiting on it, for minutes. Whoever
# reads or writes live media tries again by itself (the mirror with backoff, a player at its
# next reload). Two attempts, so a kept-alive connection the store closed costs no failure.
LIVE_TIMEOUTS = StoreTimeouts(connect=2, read=3, attempts=2)


class S3Storage:
    """Objects in one S3 bucket (MinIO, AWS, any S3-compatible store) through boto3.

    Large files go up in parts (boto3's managed transfer: multipart above `multipart_mb`), and
    each object gets a Content-Type from its key, since nginx passes the bucket's header on.
    `url()` is the public path nginx proxies to the bucket; `presigned_url()` is a signed,
    short-lived URL straight to the store.
    """

    name = "s3"

    def __init__(self, bucket: str | None, *, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None,
                 base_url: str = "/media/", multipart_mb: int = 16,
                 timeouts: StoreTimeouts | None = None) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config as BotoConfig

        if not bucket:
            raise ValueError("S3_BUCKET is empty: name the bucket to store objects in")
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeouts = timeouts or StoreTimeouts()
        # Path-style addressing works with MinIO and any endpoint without wildcard DNS.
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
            config=BotoConfig(s3={"addressing_style": "path"}, signature_version="s3v4",
                              retries={"max_attempts": self.timeouts.attempts, "mode": "standard"},
                              connect_timeout=self.timeouts.connect, read_timeout=self.timeouts.read,
                              max_pool_connections=32),
        )
        size = multipart_mb * 1024 * 1024
        self.transfer = TransferConfig(multipart_threshold=size, multipart_chunksize=size,
                                       max_concurrency=4)

    @staticmethod
    def _missing(exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        self.client.upload_file(str(path), self.bucket, check_key(key), Config=self.transfer,
                                ExtraArgs={"ContentType": content_type_for(key, content_type)})

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data,
                               ContentType=content_type_for(key, content_type))

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            # botocore's StreamingBody reads and closes like a binary file, all that callers use.
            return cast(BinaryIO, self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"])
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(key) from exc
            raise

    def get_bytes(self, key: str) -> bytes:
        body = self.open(key)
        try:
            return body.read()
        finally:
            body.close()

    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, check_key(key), str(path), Config=self.transfer)
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(key) from exc
            raise

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=check_key(key))["ContentLength"]
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if prefix:
            check_key(prefix, prefix=True)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                modified = item["LastModified"]
                if modified.tzinfo is None:
                    modified = modified.replace(tzinfo=UTC)
                yield StoredObject(item["Key"], item["Size"], modified.astimezone(UTC))

    def delete_keys(self, keys: Iterable[str]) -> int:
        """Delete `keys` in batches of 1,000 (one request each). Returns how many were asked."""
        keys = list(keys)
        for start in range(0, len(keys), 1000):
            batch: list[ObjectIdentifierTypeDef] = [{"Key": check_key(key)} for key in keys[start:start + 1000]]
            answer = self.client.delete_objects(Bucket=self.bucket,
                                                Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise OSError(f"S3 could not delete {len(answer['Errors'])} objects "
                              f"(first {first.get('Key')}: {first.get('Code')} {first.get('Message')})")
        return len(keys)

    def delete_prefix(self, prefix: str) -> int:
        check_key(prefix, prefix=True)
        return self.delete_keys(obj.key for obj in self.list(prefix))

    def url(self, key: str) -> str:
        return self.base_url + check_key(key)

    def presigned_url(self, key: str, expires: int = 300, *, filename: str | None = None) -> str:
        """A signed GET URL for `key`, valid `expires` seconds, straight to the store."""
        params = {"Bucket": self.bucket, "Key": check_key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def ensure_bucket(self, public_prefixes: tuple[str, ...] = ()) -> bool:
        """Create the bucket if it is missing (True if it was made) and allow anonymous reads of
        `public_prefixes`, the keys nginx proxies without credentials. Safe to run twice."""
        import json

        from botocore.exceptions import ClientError

        made = False
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not self._missing(exc) and str(exc.response.get("Error", {}).get("Code")) != "NoSuchBucket":
                raise
            self.client.create_bucket(Bucket=self.bucket)
            made = True
        if public_prefixes:
            policy = {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "CascadePublicRead",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["*"]},
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{self.bucket}/{prefix}*" for prefix in public_prefixes],
                }],
            }
            self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
        return made


def storage_root(config: Mapping[str, Any]) -> Path:
    root = config.get("STORAGE_ROOT") or str(Path(config["MEDIA_ROOT"]) / "objects")
    return Path(root)


def get_storage(config: Mapping[str, Any] | None = None, timeouts: StoreTimeouts | None = None) -> Storage:
    """The storage backend the app's config names (STORAGE_BACKEND, STORAGE_ROOT, STORAGE_URL);
    with S3, a client that waits as `timeouts` say (live_storage for live HLS)."""
    if config is None:
        from flask import current_app

        config = current_app.config
    backend = config.get("STORAGE_BACKEND", "local")
    base_url = config.get("STORAGE_URL") or "/media/"
    if backend == "local":
        return LocalStorage(storage_root(config), base_url)
    if backend == "s3":
        timeouts = timeouts or StoreTimeouts()
        # One client per process and settings: boto3 clients are thread-safe and pool connections.
        settings = (config.get("S3_BUCKET"), config.get("S3_ENDPOINT_URL"), config.get("S3_REGION"),
                    config.get("AWS_ACCESS_KEY_ID"), config.get("AWS_SECRET_ACCESS_KEY"), base_url, timeouts)
        storage = _s3_clients.get(settings)
        if storage is None:
            storage = _s3_clients[settings] = S3Storage(
                settings[0], endpoint_url=settings[1], region=settings[2], access_key=settings[3],
                secret_key=settings[4], base_url=base_url, timeouts=timeouts)
        return storage
    raise ValueError(f"STORAGE_BACKEND {backend!r} is not supported (use 'local' or 's3')")


def live_storage(config: Mapping[str, Any] | None = None) -> Storage:
    """The store of live HLS: the configured one, with LIVE_TIMEOUTS when it is S3."""
    return get_storage(config, LIVE_TIMEOUTS)


_s3_clients: dict[tuple[object, ...], S3Storage] = {}
