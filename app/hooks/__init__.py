"""Callbacks from the ingest servers (nginx-rtmp and SRS) when publishers come and go."""
from flask import Blueprint

bp = Blueprint("hooks", __name__, url_prefix="/hooks")

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
