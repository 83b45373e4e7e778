"""Channels: the public channel page and the rules for a channel's settings and stream key."""
from flask import Blueprint

bp = Blueprint("channels", __name__)
# create_app loads the routes (from .routes import bp), not this package: chat, moderation and
# the VOD rules import app.channels.access and .services, and the channel page's routes import
# chat, so loading them here would close an import cycle.
