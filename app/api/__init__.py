"""The public JSON API, version 1."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
