"""LL-HLS delivery directives: blocking playlist reloads, delta updates and held preload-hinted parts."""
from flask import Blueprint
from werkzeug.routing import BaseConverter

from ..live.state import INTERNAL_NAME
from . import services

bp = Blueprint("hls", __name__, url_prefix="/hls")
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.


def _converter(name: str, pattern) -> type[BaseConverter]:
    return type(f"{name}Converter", (BaseConverter,), {"regex": pattern.pattern})


# Only live sessions' internal names, rungs and part files reach these routes; other /hls/ paths
# are nobody's business here (nginx, or a test's stand-in for it, serves them). Made once: every
# app shares the classes (their rules parse the same, and tests reuse the parse).
CONVERTERS = {"internal_name": _converter("InternalName", INTERNAL_NAME),
              "rung": _converter("Rung", services.RUNG),
              "part_file": _converter("PartFile", services.PART_FILE)}


@bp.record_once
def _converters(state) -> None:
    state.app.url_map.converters.update(CONVERTERS)
    # nginx's access check for /hls/ lives outside the blueprint's /hls prefix (nginx refuses
    # /internal/ from outside; media/nginx.conf.j2).
    from .access import hls_access

    state.app.add_url_rule("/internal/hls-access", "hls.access", hls_access)

