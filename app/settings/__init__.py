"""Account settings: email, password, appearance."""
from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from . import routes  # noqa: E402,F401
from . import profile  # noqa: E402,F401
from . import donations  # noqa: E402,F401
