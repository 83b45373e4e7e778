"""Live chat: Socket.IO events, the rules behind them, and the viewer's own chat settings."""
from flask import Blueprint

bp = Blueprint("chat", __name__)

from . import events, routes  # noqa: E402,F401  (handlers register on import)
