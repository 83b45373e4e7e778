"""The legal pages: terms of service, privacy policy and copyright (DMCA) policy, versioned."""
from flask import Blueprint

bp = Blueprint("legal", __name__, url_prefix="/legal")
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
