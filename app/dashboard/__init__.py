"""The creator dashboard: stream setup, stream key and channel info."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
