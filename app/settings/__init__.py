"""Account settings: email, password, appearance."""
from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from . import donations, profile, routes  # noqa: E402,F401 - they need bp, and register on it when imported
