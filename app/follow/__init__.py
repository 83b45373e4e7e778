"""Following channels, the Following page, and notifications when a followed channel goes live."""
from flask import Blueprint

bp = Blueprint("follow", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
