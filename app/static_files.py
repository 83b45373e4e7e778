"""Cache-busting static URLs: each carries a hash of the file, so nginx can cache them for a year."""
import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def add_version(endpoint: str, values: dict) -> None:
    if endpoint != "static" or "filename" not in values or "v" in values:
        return
    path = Path(current_app.static_folder or "") / values["filename"]
    try:
        values["v"] = _digest(str(path), path.stat().st_mtime_ns)
    except OSError:
        pass  # a missing file keeps its plain URL and 404s as it should


def init_app(app: Flask) -> None:
    app.url_defaults(add_version)
