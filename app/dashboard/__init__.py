"""The creator dashboard: stream setup, stream key and channel info."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import routes  # noqa: E402,F401
