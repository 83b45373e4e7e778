"""Channels: the public channel page and the rules for a channel's settings and stream key."""
from flask import Blueprint

bp = Blueprint("channels", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
