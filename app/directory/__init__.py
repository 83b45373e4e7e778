"""Finding channels: the directory and search."""
from flask import Blueprint

bp = Blueprint("directory", __name__)

from . import routes  # noqa: E402,F401 - the routes need bp, and register on it when imported
