"""Profile pages."""
from flask import abort, render_template

from . import bp, services


@bp.route("/u/<username>")
def show(username: str):
    user = services.user_by_username(username)
    if user is None or user.disabled:
        abort(404)
    followers = services.follower_count(user.channel.id) if user.channel else 0
    return render_template("profiles/show.html", user=user, followers=followers)
