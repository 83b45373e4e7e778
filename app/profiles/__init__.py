"""Public user profiles at /u/<username>."""
from flask import Blueprint

bp = Blueprint("profiles", __name__)

from . import routes  # noqa: E402,F401
