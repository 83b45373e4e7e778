"""Recordings of past broadcasts: the VOD manager, channel video pages, the watch page with chat
replay, and access to a VOD's objects (private until the creator publishes)."""
from flask import Blueprint

bp = Blueprint("vods", __name__)

from . import objects, routes  # noqa: E402,F401 - they need bp, and register on it when imported
