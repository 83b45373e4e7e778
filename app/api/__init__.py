"""The public JSON API, version 1."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
