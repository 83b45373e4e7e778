"""Signing in to an account that waits to be deleted: the password was right, so the owner is
offered to keep the account (app.auth.deletion.cancel_erasure) instead of being logged in."""
from __future__ import annotations

import time

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user

from ..extensions import db
from ..models import User
from . import bp, deletion, services
from .forms import ConfirmForm

# The browser that just typed the right password may keep the account for this long.
KEEP_WINDOW_SECONDS = 600
SESSION_KEY = "keep_account"


def offer_to_keep(user: User, *, remember: bool = False):
    """The page a right password leads to during the grace (the login form's answer)."""
    session[SESSION_KEY] = {"user": user.id, "at": int(time.time()), "remember": bool(remember)}
    return render_template("auth/keep_account.html", form=ConfirmForm(), user=user)


@bp.route("/login/keep-account", methods=["POST"])
def keep_account():
    from .routes import _start_session

    form = ConfirmForm()
    pending = session.get(SESSION_KEY) or {}
    if current_user.is_authenticated or not form.validate_on_submit():
        return redirect(url_for("auth.login"), 303)
    user = db.session.get(User, pending.get("user") or 0)
    if user is None or time.time() - pending.get("at", 0) > KEEP_WINDOW_SECONDS or not user.erasure_pending:
        session.pop(SESSION_KEY, None)
        flash("Log in again to keep your account.", "error")
        return redirect(url_for("auth.login"), 303)
    deletion.cancel_erasure(user)
    if user.disabled:  # staff suspended or terminated it during the grace
        session.pop(SESSION_KEY, None)
        flash("Your account won't be deleted, but it has been disabled by the site's staff.", "info")
        return redirect(url_for("auth.login"), 303)
    _start_session(user, remember=bool(pending.get("remember")))
    services.record_login(user)
    flash("Welcome back! Your account will not be deleted.", "success")
    return redirect(url_for("settings.privacy"), 303)
