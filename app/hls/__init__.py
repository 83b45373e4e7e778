"""LL-HLS delivery directives: blocking playlist reloads, delta updates and held preload-hinted parts."""
from flask import Blueprint
from werkzeug.routing import BaseConverter

bp = Blueprint("hls", __name__, url_prefix="/hls")


class InternalNameConverter(BaseConverter):
    """Only live sessions' internal names (st-<16 hex>) reach these routes; other /hls/ paths
    are nobody's business here (nginx, or a test's stand-in for it, serves them)."""
    regex = r"st-[0-9a-f]{16}"


class RungConverter(BaseConverter):
    regex = r"[va][0-9]{1,2}"


class PartFileConverter(BaseConverter):
    regex = r"p[0-9]{1,12}\.[0-9]{1,6}\.m4s"


@bp.record_once
def _converters(state) -> None:
    state.app.url_map.converters.update(
        internal_name=InternalNameConverter, rung=RungConverter, part_file=PartFileConverter)


from . import routes  # noqa: E402,F401
