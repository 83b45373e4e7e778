"""Moderation: chat actions taken from the channel page, the chat settings page and the mod log."""
from flask import Blueprint

bp = Blueprint("moderation", __name__)

from . import pages, routes, site_terms  # noqa: E402,F401 - they need bp, and register on it when imported
