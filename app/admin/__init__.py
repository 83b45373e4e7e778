"""Site admin pages that belong to no single channel: the live runtime's hosts and sessions."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
