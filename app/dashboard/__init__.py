"""The creator dashboard: stream setup, stream key and channel info."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import events, routes  # noqa: E402,F401  (Socket.IO handlers register on import)
