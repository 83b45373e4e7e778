"""Trust and safety: reports, the staff queue, actions with statements of reasons, appeals and the
audit log (issue 17). Services live in their own modules; the pages in routes.py."""
from flask import Blueprint

bp = Blueprint("safety", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES).
