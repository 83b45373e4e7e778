"""Public user profiles at /u/<username>."""
from flask import Blueprint

bp = Blueprint("profiles", __name__)

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
