"""The home page, the theme switch and the health check."""
from flask import Blueprint

bp = Blueprint("home", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
