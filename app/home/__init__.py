"""The home page, the theme switch and the health check."""
from flask import Blueprint

bp = Blueprint("home", __name__)

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
