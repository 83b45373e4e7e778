"""Copyright pages: the takedown form (anyone), the uploader's counter-notice (signed in, or by
the signed link mailed with the notice), the claimant's page (retract or report a lawsuit, by
the link in their receipt), and the admins' list."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden, NotFound

from ..errors import with_message
from ..extensions import limiter
from . import bp, mails, takedown
from .forms import ClaimantForm, CounterNoticeForm, TakedownForm
from .takedown import CopyrightError

# Takedown notices come from anyone: a few per address, and each needs every element anyway.
TAKEDOWN_LIMIT = "10 per hour"


def _data(form) -> dict:
    return {name: field.data for name, field in form._fields.items() if name != "csrf_token"}


@bp.route("/dmca/notice", methods=["GET", "POST"])
@limiter.limit(TAKEDOWN_LIMIT, methods=["POST"])
def dmca_notice():
    form = TakedownForm()
    if request.method == "GET" and request.args.get("video"):
        form.material_url.data = request.args["video"][:500]
    status, problem = 200, None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                notice = takedown.file_takedown(_data(form))
            except CopyrightError as error:
                status, problem = error.status, error.message
            else:
                return render_template("safety/dmca_sent.html", notice=notice)
        else:
            status = 400
    return render_template("safety/dmca_notice.html", form=form, problem=problem), status


@bp.route("/dmca/notices/<int:notice_id>/counter", methods=["GET", "POST"])
@login_required
def dmca_counter(notice_id: int):
    notice = takedown.notice_for_uploader(notice_id, current_user)
    if notice is None:
        raise with_message(NotFound(), "There is no such notice for your videos.")
    return _counter_page(notice, current_user)


@bp.route("/dmca/notices/<int:notice_id>/counter/<token>", methods=["GET", "POST"])
def dmca_counter_by_link(notice_id: int, token: str):
    """The mailed link: an uploader who cannot sign in (suspended, or terminated by the third
    notice) still has the right to counter-notice, so the link works signed out."""
    notice = mails.notice_for_counter_token(notice_id, token)
    uploader = takedown.uploader_of(notice) if notice is not None else None
    if notice is None or uploader is None:
        raise with_message(NotFound(), "This link does not work any more.")
    return _counter_page(notice, uploader)


def _counter_page(notice, uploader):
    """The notice and its counter-notice form, for `uploader`; a sent one comes back to this URL."""
    form = CounterNoticeForm()
    status, problem = 200, None
    if request.method == "GET":
        form.material.data = form.material.data or f"{notice.material_label} ({notice.material_url})"
    elif form.validate_on_submit():
        try:
            takedown.counter_notice(notice.id, uploader, _data(form))
        except CopyrightError as error:
            status, problem = error.status, error.message
        else:
            flash("Your counter-notice was sent to the claimant.", "success")
            return redirect(request.path, 303)
    else:
        status = 400
    return render_template("safety/dmca_counter.html", notice=notice, form=form, problem=problem), status


@bp.app_template_global()
def dmca_counter_url(notice) -> str:
    """Where the uploader's counter-notice form is: the plain page when they are signed in, else
    the signed link (a statement opened by its mailed link, signed out, points there)."""
    if current_user.is_authenticated and current_user.id == notice.uploader_id:
        return url_for("safety.dmca_counter", notice_id=notice.id)
    return mails.counter_link(notice)


@bp.route("/dmca/notices/<int:notice_id>/claimant/<token>", methods=["GET", "POST"])
def dmca_claimant(notice_id: int, token: str):
    notice = takedown.notice_for_claimant(notice_id, token)
    if notice is None:
        raise with_message(NotFound(), "This link does not work.")
    form = ClaimantForm()
    status, problem = 200, None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                if form.action.data == "retract":
                    takedown.retract(notice)
                else:
                    takedown.report_lawsuit(notice)
            except CopyrightError as error:
                status, problem = error.status, error.message
            else:
                flash("Done. The uploader has been told.", "success")
                return redirect(request.path, 303)
        else:
            status = 400
    return render_template("safety/dmca_claimant.html", notice=notice, form=form, problem=problem), status


@bp.route("/admin/dmca")
@login_required
def dmca_list():
    if not current_user.is_admin:
        raise with_message(Forbidden(), "Only site admins can see that.")
    return render_template("safety/dmca_list.html", notices=takedown.all_notices())
