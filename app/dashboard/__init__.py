"""The creator dashboard: stream setup, stream key and channel info."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import events, routes  # noqa: E402,F401 - they need bp; Socket.IO handlers and routes register on import
