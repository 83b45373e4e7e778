"""Site admin pages that belong to no single channel: the live runtime's hosts and sessions."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
