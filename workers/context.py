"""The Flask app of this worker process, made once and shared by every job the process runs."""
from __future__ import annotations

from flask import Flask
from flask.ctx import AppContext

_app: Flask | None = None


def get_app() -> Flask:
    """Return this process's app, creating it on first use (jobs and the worker both call this)."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def app_context() -> AppContext:
    """A fresh app context for one job: `with app_context(): ...`."""
    return get_app().app_context()
