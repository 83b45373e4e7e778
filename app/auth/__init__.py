"""Accounts: sign up, log in, log out, reset a forgotten password, verify an address."""
from flask import Blueprint

bp = Blueprint("auth", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
