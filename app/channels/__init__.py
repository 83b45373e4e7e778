"""Channels: the public channel page and the rules for a channel's settings and stream key."""
from flask import Blueprint

bp = Blueprint("channels", __name__)

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
