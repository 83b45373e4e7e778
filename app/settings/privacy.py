"""Settings → Your data: a copy of your data (export), the sale-and-sharing opt-out (Global
Privacy Control), how long things are kept, and the way to delete the account."""
from flask import abort, flash, redirect, send_file, url_for
from flask_login import current_user, login_required

from .. import mail
from ..htmx import render_page_or_fragment, wants_fragment
from ..legal.services import placeholders
from ..privacy import cookies, exports
from ..privacy.settings import days, erasure_grace, export_interval, export_link_lifetime
from . import bp
from .forms import ExportForm


def _page(notice: str | None = None, error: str | None = None):
    latest = exports.latest(current_user)
    legal = placeholders()
    return render_page_or_fragment(
        "settings/privacy.html", "settings/_privacy.html",
        form=ExportForm(), latest=latest, next_allowed=exports.next_allowed_at(current_user),
        link=url_for("settings.download_export", export_id=latest.id, token=exports.link_token(latest))
        if latest is not None and latest.is_ready else None,
        notice=notice, error=error, cookies=cookies.strictly_necessary(),
        periods={"link": days(export_link_lifetime()), "interval": days(export_interval()),
                 "grace": days(erasure_grace()), "vods": legal["vod_retention"],
                 "logins": legal["login_retention"]})


@bp.route("/privacy")
@login_required
def privacy():
    return _page()


@bp.route("/privacy/export", methods=["POST"])
@login_required
def request_export():
    if not ExportForm().validate_on_submit():
        abort(400)
    try:
        exports.request_export(current_user, mail.site_url())
    except exports.ExportRefused as refused:
        return _page(error=refused.message)
    notice = f"We're preparing your data. We'll e-mail {current_user.email} when it's ready."
    if wants_fragment():
        return _page(notice=notice)
    flash(notice, "success")
    return redirect(url_for("settings.privacy"), 303)


# The token is the link's secret; the owner must be signed in as well (login_required, and
# exports.downloadable compares the owner): a forwarded link opens nothing for anyone else.
@bp.route("/privacy/exports/<int:export_id>/<token>")
@login_required
def download_export(export_id: int, token: str):
    try:
        export = exports.downloadable(export_id, token, current_user)
        if export is None:
            abort(404)
        handle = exports.open_archive(export)
    except exports.ExportGone:
        flash("That export has expired. Ask for a new copy below.", "error")
        return redirect(url_for("settings.privacy"), 303)
    response = send_file(handle, mimetype="application/zip", as_attachment=True,
                         download_name=exports.download_name(export), max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
