"""Recordings of past broadcasts: the VOD manager, channel video pages, the watch page with chat
replay, and access to a VOD's objects (private until the creator publishes)."""
from flask import Blueprint

bp = Blueprint("vods", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
