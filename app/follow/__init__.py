"""Following channels, the Following page, and notifications when a followed channel goes live."""
from flask import Blueprint

bp = Blueprint("follow", __name__)

from . import events, routes  # noqa: E402,F401 - they need bp; Socket.IO handlers and routes register on import
