"""Trust-and-safety pages: reporting (members and signed-out notices), the reporter's receipts and
thread, the person's notices (statements of reasons) and appeals, the staff queue and case page,
appeals for staff, the audit log, and admins' direct actions on an account."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden, NotFound

from ..errors import with_message
from ..extensions import db, limiter
from ..htmx import render_page_or_fragment
from ..ids import row_id
from ..models import Appeal, User
from . import actions, audit, bp, cases, mails, reports, rules, takedown
from .actions import ActionError
from .errors import SafetyError
from .forms import ActionForm, AppealForm, DecideForm, DismissForm, NoteForm, ReportForm
from .reports import ReportError

# Signed-out notices: a few per address, on top of the form's own checks.
NOTICE_LIMIT = "5 per hour"


def _fail(error: SafetyError):
    if error.status == 404:
        raise with_message(NotFound(), error.message)
    if error.status == 403:
        raise with_message(Forbidden(), error.message)


def _field_error(form, error: SafetyError) -> None:
    """Show a service's refusal on its field (or the form's top when it names none)."""
    target = getattr(form, error.field, None) if error.field else None
    if target is not None:
        target.errors = [*target.errors, error.message]
    else:
        form.form_errors.append(error.message)


def _signed_in() -> bool:
    return bool(current_user.is_authenticated)


# --- reporting -------------------------------------------------------------------------------------

@bp.route("/report/<target_type>/<int:target_id>", methods=["GET", "POST"])
@limiter.limit(NOTICE_LIMIT, methods=["POST"], exempt_when=_signed_in)
def report(target_type: str, target_id: int):
    viewer = current_user if current_user.is_authenticated else None
    try:
        target = reports.find_target(target_type, target_id, viewer)
    except ReportError as error:
        _fail(error)
        raise
    form = ReportForm(signed_in=viewer is not None)
    status = 200
    if form.validate_on_submit():
        try:
            made = reports.file_report(viewer, target, form.reason.data, form.details.data or "",
                                       range_start=form.range_start.data, range_end=form.range_end.data,
                                       contact_email=form.contact_email.data or None,
                                       good_faith=bool(form.good_faith.data))
        except ReportError as error:
            _fail(error)
            _field_error(form, error)
            status = error.status
        else:
            return render_page_or_fragment("safety/report_sent.html", "safety/_report_sent.html",
                                           report=made, target=target)
    elif request.method == "POST":
        status = 400
    return render_page_or_fragment("safety/report.html", "safety/_report_form.html", status=status,
                                   form=form, target=target, copyright=rules.COPYRIGHT)


@bp.route("/reports")
@login_required
def my_reports():
    return render_template("safety/my_reports.html", reports=reports.reports_by(current_user),
                           status_label=reports.status_label, reason_text=rules.reason_text)


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@login_required
def my_report(report_id: int):
    try:
        found = reports.report_of(current_user, report_id)
    except ReportError as error:
        _fail(error)
        raise
    form = NoteForm()
    status = 200
    if form.validate_on_submit():
        try:
            reports.reply(found, current_user, form.body.data, from_staff=False)
        except ReportError as error:
            _field_error(form, error)
            status = 400
        else:
            return redirect(url_for("safety.my_report", report_id=found.id), 303)
    elif request.method == "POST":
        status = 400
    return render_template("safety/my_report.html", report=found, thread=reports.thread(found), form=form,
                           status_label=reports.status_label, reason_text=rules.reason_text), status


# --- notices: what was decided about me, and my appeal ----------------------------------------------

@bp.route("/notices")
@login_required
def notices():
    return render_template("safety/notices.html", notices=actions.notices_for(current_user),
                           kind_names=actions.KIND_NAMES)


def _notice_page(sanction, form, *, appeal_url: str, status: int = 200):
    return render_template("safety/notice.html", sanction=sanction, form=form, appeal_url=appeal_url,
                           content_text=actions.content_text(sanction),
                           dmca_notice=takedown.notice_for_strike(sanction),
                           kind_names=actions.KIND_NAMES, refusal=actions.appeal_refusal(sanction),
                           deadline=actions.appeal_deadline(sanction)), status


def _appeal(sanction, user, form) -> int:
    """Handle a posted appeal form; the status to answer with (0 when it was filed)."""
    if not form.validate_on_submit():
        return 400
    try:
        actions.appeal(sanction, user, form.text.data)
    except ActionError as error:
        _fail(error)
        _field_error(form, error)
        return error.status
    flash("Your appeal was sent. Someone other than whoever took the action will decide it.", "success")
    return 0


@bp.route("/notices/<int:sanction_id>", methods=["GET", "POST"])
@login_required
def notice(sanction_id: int):
    try:
        sanction = actions.notice_of(current_user, sanction_id)
    except ActionError as error:
        _fail(error)
        raise
    actions.mark_seen(sanction)
    form = AppealForm()
    if request.method == "POST":
        status = _appeal(sanction, current_user, form)
        if not status:
            return redirect(url_for("safety.notice", sanction_id=sanction.id), 303)
        return _notice_page(sanction, form, appeal_url=request.path, status=status)
    return _notice_page(sanction, form, appeal_url=request.path)


@bp.route("/notices/<int:sanction_id>/<token>", methods=["GET", "POST"])
def notice_by_link(sanction_id: int, token: str):
    """The mailed link: a suspended person, who cannot sign in, reads the notice and appeals."""
    sanction = mails.sanction_for_token(sanction_id, token)
    if sanction is None or sanction.user is None:
        raise with_message(NotFound(), "This link does not work any more.")
    form = AppealForm()
    if request.method == "POST":
        status = _appeal(sanction, sanction.user, form)
        if not status:
            return redirect(request.path, 303)
        return _notice_page(sanction, form, appeal_url=request.path, status=status)
    return _notice_page(sanction, form, appeal_url=request.path)


@bp.app_context_processor
def safety_notice() -> dict:
    """How many notices a signed-in member has not opened (for the banner in base.html); a
    function, so only whole pages ask."""
    def unseen() -> int:
        return actions.unseen_notices(current_user) if current_user.is_authenticated else 0
    return {"safety_unseen": unseen}


# --- staff: the queue and a case ---------------------------------------------------------------------

def _staff_case(case_id: int):
    try:
        return cases.case_for(current_user, case_id)
    except ActionError as error:
        _fail(error)
        raise


@bp.route("/moderation/reports")
@login_required
def queue():
    state = request.args.get("state", "open")
    found = cases.queue(current_user, state)  # every member owns a channel: its chat's reports
    return render_template("safety/queue.html", cases=found, state=state, reason_text=rules.reason_text)


def _case_page(case, *, action_form=None, note_form=None, dismiss_form=None, status: int = 200):
    kinds = actions.kinds_for(case, current_user)
    if action_form is None:
        action_form = ActionForm(formdata=None, kinds=kinds)
        action_form.rule.data = case.reason  # what the reporters named, as a start
    return render_template(
        "safety/case.html", case=case, notes=cases.notes(case), reason_text=rules.reason_text,
        action_form=action_form,
        note_form=note_form or NoteForm(formdata=None), dismiss_form=dismiss_form or DismissForm(formdata=None),
        sanctions=cases.sanctions_of(case), kind_names=actions.KIND_NAMES,
        strikes=actions.active_strikes(case.target_user) if case.target_user else 0), status


@bp.route("/moderation/reports/<int:case_id>")
@login_required
def case(case_id: int):
    return _case_page(_staff_case(case_id))


@bp.route("/moderation/reports/<int:case_id>/claim", methods=["POST"])
@login_required
def claim(case_id: int):
    found = _staff_case(case_id)
    if not DismissForm().validate_on_submit():  # the CSRF token
        raise with_message(Forbidden(), "The form expired; reload the page.")
    try:
        cases.claim(found, current_user)
    except ActionError as error:
        flash(error.message, "error")
    return redirect(url_for("safety.case", case_id=found.id), 303)


@bp.route("/moderation/reports/<int:case_id>/escalate", methods=["POST"])
@login_required
def escalate(case_id: int):
    found = _staff_case(case_id)
    if not DismissForm().validate_on_submit():
        raise with_message(Forbidden(), "The form expired; reload the page.")
    try:
        cases.escalate(found, current_user)
    except ActionError as error:
        flash(error.message, "error")
        return redirect(url_for("safety.case", case_id=found.id), 303)
    flash("Sent to the site's staff.", "success")
    return redirect(url_for("safety.queue"), 303)


@bp.route("/moderation/reports/<int:case_id>/note", methods=["POST"])
@login_required
def note(case_id: int):
    found = _staff_case(case_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _case_page(found, note_form=form, status=400)
    cases.add_note(found, current_user, form.body.data)
    return redirect(url_for("safety.case", case_id=found.id) + "#notes", 303)


@bp.route("/moderation/reports/<int:case_id>/reply/<int:report_id>", methods=["POST"])
@login_required
def reply(case_id: int, report_id: int):
    found = _staff_case(case_id)
    form = NoteForm()
    try:
        target = cases.report_in(found, report_id)
    except ActionError as error:
        _fail(error)
        raise
    if target.reporter_id is None:
        raise with_message(NotFound(), "That report came without an account; answer it by e-mail.")
    if not form.validate_on_submit():
        return _case_page(found, note_form=form, status=400)
    reports.reply(target, current_user, form.body.data, from_staff=True)
    return redirect(url_for("safety.case", case_id=found.id) + "#notes", 303)


@bp.route("/moderation/reports/<int:case_id>/action", methods=["POST"])
@login_required
def take_action(case_id: int):
    found = _staff_case(case_id)
    form = ActionForm(kinds=actions.kinds_for(found, current_user))
    if not form.validate_on_submit():
        return _case_page(found, action_form=form, status=400)
    try:
        actions.decide_case(found, current_user, form.kind.data, form.rule.data, form.statement.data,
                            form.days.data)
    except ActionError as error:
        _fail(error)
        _field_error(form, error)
        return _case_page(found, action_form=form, status=error.status)
    flash(f"{actions.KIND_NAMES[form.kind.data]}: done, and the person has been told why.", "success")
    return redirect(url_for("safety.queue"), 303)


@bp.route("/moderation/reports/<int:case_id>/dismiss", methods=["POST"])
@login_required
def dismiss(case_id: int):
    found = _staff_case(case_id)
    form = DismissForm()
    if not form.validate_on_submit():
        return _case_page(found, dismiss_form=form, status=400)
    try:
        actions.dismiss_case(found, current_user, form.note.data or "")
    except ActionError as error:
        flash(error.message, "error")
        return redirect(url_for("safety.case", case_id=found.id), 303)
    flash("Dismissed; the reporters have been told no action was taken.", "success")
    return redirect(url_for("safety.queue"), 303)


# --- staff: appeals -----------------------------------------------------------------------------------

@bp.route("/moderation/appeals")
@login_required
def appeals():
    pending = actions.pending_appeals(current_user)
    return _appeals_page(pending)


def _decide_form(appeal_id: int, formdata=None) -> DecideForm:
    # One form per appeal on the page: a prefix keeps their fields' ids apart.
    if formdata is None:
        return DecideForm(formdata=None, prefix=f"appeal{appeal_id}")
    return DecideForm(prefix=f"appeal{appeal_id}")


def _appeals_page(pending, failed: DecideForm | None = None, failed_id: int | None = None, status: int = 200):
    forms = {each.id: (failed if each.id == failed_id and failed is not None else _decide_form(each.id))
             for each in pending}
    return render_template("safety/appeals.html", appeals=pending, kind_names=actions.KIND_NAMES,
                           forms=forms), status


@bp.route("/moderation/appeals/<int:appeal_id>", methods=["POST"])
@login_required
def decide(appeal_id: int):
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or not actions.can_decide(appeal, current_user):
        raise with_message(NotFound(), "There is no such appeal for you to decide.")
    form = _decide_form(appeal.id, request.form)
    if not form.validate_on_submit():
        return _appeals_page(actions.pending_appeals(current_user), form, appeal.id, 400)
    try:
        actions.decide_appeal(appeal, current_user, form.outcome.data == "uphold", form.decision.data)
    except ActionError as error:
        flash(error.message, "error")
    else:
        flash(f"Appeal {appeal.state}; the person has been told.", "success")
    return redirect(url_for("safety.appeals"), 303)


# --- site admins: the audit log and direct actions on an account -------------------------------------

def _require_admin() -> None:
    if not current_user.is_admin:
        raise with_message(Forbidden(), "Only site admins can see that.")


@bp.route("/admin/audit")
@login_required
def audit_log():
    _require_admin()
    before = request.args.get("before", type=row_id)
    return render_template("safety/audit.html", lines=audit.lines(before), page=audit.PAGE)


@bp.route("/admin/people/<username>", methods=["GET", "POST"])
@login_required
def person(username: str):
    _require_admin()
    target = db.session.scalar(db.select(User).where(User.username_lower == username.lower()))
    if target is None:
        raise with_message(NotFound(), "There is no such account.")
    form = ActionForm(kinds=tuple(kind for kind in actions.KIND_NAMES if kind != "remove"))
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                done = actions.act(current_user, target, form.kind.data, form.rule.data, form.statement.data,
                                   days=form.days.data)
                db.session.commit()
            except ActionError as error:
                db.session.rollback()
                _field_error(form, error)
                status = error.status
            else:
                for each in done:
                    actions.notify(each)
                flash(f"{actions.KIND_NAMES[done[0].kind]}: done, and @{target.username} has been told why.",
                      "success")
                return redirect(url_for("safety.person", username=target.username), 303)
        else:
            status = 400
    return render_template("safety/person.html", person=target, form=form, notices=actions.notices_for(target),
                           kind_names=actions.KIND_NAMES, strikes=actions.active_strikes(target)), status


@bp.route("/admin/people/<username>/lift/<int:sanction_id>", methods=["POST"])
@login_required
def lift(username: str, sanction_id: int):
    _require_admin()
    sanction = actions.sanction_of_user(username, sanction_id)
    if sanction is None:
        raise with_message(NotFound(), "There is no such action.")
    if not DismissForm().validate_on_submit():
        raise with_message(Forbidden(), "The form expired; reload the page.")
    actions.lift(sanction, current_user)
    flash("Lifted.", "success")
    return redirect(url_for("safety.person", username=username), 303)
