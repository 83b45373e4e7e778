"""Account settings: email, password, appearance."""
from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
