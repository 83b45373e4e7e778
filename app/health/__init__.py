"""Readiness an operator can read: /readyz and `flask doctor`, both from app.health.checks."""
from flask import Blueprint

bp = Blueprint("health", __name__)

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
