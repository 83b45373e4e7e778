"""Object storage for thumbnails, uploads and recordings: a narrow interface, a local backend.

Keys are relative, slash-separated names such as `thumbnails/12/live.jpg`. The S3 backend
(MinIO in production) will implement the same methods, so callers never touch paths.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

from .atomic import write_atomic

_KEY_PART = re.compile(r"^[A-Za-z0-9._-]+$")


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


class Storage(Protocol):
    def put_file(self, key: str, path: str | os.PathLike, content_type: str | None = None) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def url(self, key: str) -> str: ...


class LocalStorage:
    """Objects as files under `root`, served by nginx at `base_url` (see media/nginx.conf.j2).

    Writes go to a temporary file in the same directory and are renamed into place, so a
    reader (nginx, another worker) never sees half an object. `content_type` is not stored:
    nginx derives it from the key's extension.
    """

    def __init__(self, root: str | os.PathLike, base_url: str = "/media/") -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write(self, key: str, fill) -> None:
        write_atomic(self.path(key), fill)  # mode 0644: nginx's workers read it

    def put_file(self, key: str, path: str | os.PathLike, content_type: str | None = None) -> None:
        def fill(handle):
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle)
        self._write(key, fill)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(key, lambda handle: handle.write(data))

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def get_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

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


def storage_root(config) -> Path:
    root = config.get("STORAGE_ROOT") or str(Path(config["MEDIA_ROOT"]) / "objects")
    return Path(root)


def get_storage(config=None) -> Storage:
    """The storage backend the app's config names (STORAGE_BACKEND, STORAGE_ROOT, STORAGE_URL)."""
    if config is None:
        from flask import current_app

        config = current_app.config
    backend = config.get("STORAGE_BACKEND", "local")
    if backend == "local":
        return LocalStorage(storage_root(config), config.get("STORAGE_URL") or "/media/")
    raise ValueError(f"STORAGE_BACKEND {backend!r} is not supported (use 'local')")
