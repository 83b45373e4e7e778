"""LL-HLS delivery directives: blocking playlist reloads, delta updates and held preload-hinted parts."""
from flask import Blueprint

bp = Blueprint("hls", __name__, url_prefix="/hls")

from . import routes  # noqa: E402,F401
