"""The site-wide blocked-term list, kept by site admins (it applies to every channel's chat)."""
from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..htmx import render_page_or_fragment, wants_fragment
from . import bp, services
from .forms import BlockedTermForm
from .pages import _forbid
from .services import ModerationError

PAGE = "moderation/site_terms.html"
FRAGMENT = "moderation/_site_terms.html"


def _require_admin() -> None:
    if not current_user.is_admin:
        _forbid("Only site admins can change the site-wide blocked terms.")


def _render(form=None, **context):
    return render_page_or_fragment(PAGE, FRAGMENT, terms=services.terms_for(None),
                                   term_form=form or BlockedTermForm(formdata=None), **context)


@bp.route("/admin/chat/terms", methods=["GET", "POST"])
@login_required
def site_terms():
    _require_admin()
    form = BlockedTermForm()
    if form.validate_on_submit():
        try:
            term = services.add_blocked_term(None, current_user, form.term.data)
        except ModerationError as error:
            db.session.rollback()
            form.term.errors.append(error.message)
        else:
            if not wants_fragment():
                return redirect(url_for("moderation.site_terms"), 303)
            return _render(notice=f"“{term.term}” is now blocked in every chat.")
    return _render(form)


@bp.route("/admin/chat/terms/<int:term_id>/remove", methods=["POST"])
@login_required
def remove_site_term(term_id: int):
    _require_admin()
    try:
        services.remove_blocked_term(None, current_user, term_id)
    except ModerationError as error:
        db.session.rollback()
        return _render(error=error.message)
    if not wants_fragment():
        return redirect(url_for("moderation.site_terms"), 303)
    return _render(notice="Term removed.")
