"""Following channels, the Following page, and notifications when a followed channel goes live."""
from flask import Blueprint

bp = Blueprint("follow", __name__)

from . import events, routes  # noqa: E402,F401  (Socket.IO handlers register on import)
