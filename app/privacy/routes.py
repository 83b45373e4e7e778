"""Site-wide privacy handling: the Global Privacy Control signal on every request, and the
/.well-known/gpc.json statement that the site honours it."""
from flask import jsonify, request
from flask_login import current_user

from . import bp, gpc

# When this statement last changed (the GPC specification's `lastUpdate`).
GPC_STATEMENT_UPDATED = "2026-12-07"


@bp.before_app_request
def honour_gpc():
    if gpc.signalled(request.headers) and current_user.is_authenticated:
        gpc.record_opt_out(current_user)


@bp.route("/.well-known/gpc.json")
def gpc_statement():
    response = jsonify({"gpc": True, "lastUpdate": GPC_STATEMENT_UPDATED})
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
