"""Moderation: chat actions taken from the channel page, the chat settings page and the mod log."""
from flask import Blueprint

bp = Blueprint("moderation", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.
