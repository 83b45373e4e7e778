"""Accounts: sign up, log in, log out, reset a forgotten password, verify an address."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import recovery_routes, routes  # noqa: E402,F401 - they need bp, and register on it when imported
