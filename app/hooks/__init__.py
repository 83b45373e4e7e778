"""Callbacks from the ingest servers (nginx-rtmp and SRS) when publishers come and go."""
from flask import Blueprint

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
