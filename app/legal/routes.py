"""/legal/<page>: the version in effect, any earlier one, the list of versions, and (site admins)
publishing a new one; the notice members get of new versions."""
from __future__ import annotations

from datetime import UTC, datetime, time

from flask import abort, has_request_context, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden

from ..errors import with_message
from ..extensions import db
from ..htmx import wants_fragment
from ..models import utcnow
from . import bp, services
from .forms import PublishForm
from .services import LegalError


def _kind_or_404(kind: str) -> None:
    if kind not in services.TITLES:
        abort(404)


def _render(template: str, **context):
    return render_template(template, titles=services.TITLES, **context)


def _unseen() -> list[services.Version]:
    if not has_request_context() or not current_user.is_authenticated:
        return []
    return services.unseen(current_user)


@bp.app_context_processor
def legal_notice() -> dict:
    """New versions a signed-in member has not dismissed yet, for the notice in base.html: a
    function, so that only whole pages ask (not every fragment, such as each chat line)."""
    return {"legal_unseen": _unseen, "legal_now": utcnow}


@bp.route("/<kind>")
def show(kind: str):
    _kind_or_404(kind)
    shown = services.current(kind)
    return _render("legal/document.html", shown=shown, body=services.render(shown),
                   upcoming=services.upcoming(kind), replaced_at=None,
                   agent_missing=kind == "dmca" and not services.agent_is_set())


@bp.route("/<kind>/versions")
def versions(kind: str):
    _kind_or_404(kind)
    return _render("legal/versions.html", kind=kind, versions=services.history(kind),
                   in_effect=services.current(kind).number)


@bp.route("/<kind>/versions/<int:number>")
def old_version(kind: str, number: int):
    _kind_or_404(kind)
    shown = services.version(kind, number)
    if shown is None:
        abort(404)
    replaced_at = min((v.effective_at for v in services.history(kind) if v.number > number and v.effective_at),
                      default=None)
    return _render("legal/document.html", shown=shown, body=services.render(shown), upcoming=None,
                   current=services.current(kind).number, replaced_at=replaced_at,
                   agent_missing=kind == "dmca" and not services.agent_is_set())


@bp.route("/<kind>/publish", methods=["GET", "POST"])
@login_required
def publish(kind: str):
    _kind_or_404(kind)
    if not current_user.is_admin:
        raise with_message(Forbidden(), "Only site admins can publish the legal pages.")
    latest = services.history(kind)[0]
    form = PublishForm(data={"body": latest.body, "effective_at": utcnow().date()} if request.method == "GET" else None)
    if form.validate_on_submit():
        now = utcnow()
        # Today means at once; another day, from its start (UTC). A day gone by is refused.
        day = form.effective_at.data
        at = now if day == now.date() else datetime.combine(day, time(), UTC)
        try:
            published = services.publish(kind, form.body.data, at, form.summary.data, current_user, now=now)
        except LegalError as error:
            db.session.rollback()
            getattr(form, error.field).errors = [error.message]
        else:
            return redirect(url_for("legal.old_version", kind=kind, number=published.number), 303)
    return _render("legal/publish.html", kind=kind, form=form, latest=latest), 200 if not form.errors else 400


@bp.route("/notice/dismiss", methods=["POST"])
@login_required
def dismiss_notice():
    services.mark_seen(current_user)
    if wants_fragment():
        return ""
    return redirect(request.referrer or url_for("home.index"), 303)
