"""A viewer's own chat choices: hiding (muting) another user's messages for themselves."""
from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user, login_required

from ..extensions import db
from ..models import User
from . import bp, services


@bp.route("/chat/mutes/<int:user_id>", methods=["POST", "DELETE"])
@login_required
def mute(user_id: int):
    """POST hides the user's messages for the viewer; DELETE shows them again."""
    target = db.session.get(User, user_id)
    if target is None:
        abort(404)
    try:
        if request.method == "POST":
            services.mute(current_user, target)
        else:
            services.unmute(current_user, target)
    except services.ChatRefused as refusal:
        return jsonify(ok=False, **refusal.as_event()), 400
    return jsonify(ok=True, muted=services.muted_user_ids(current_user))
