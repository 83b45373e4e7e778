"""Readiness an operator can read: /readyz and `flask doctor`, both from app.health.checks."""
from flask import Blueprint

bp = Blueprint("health", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
