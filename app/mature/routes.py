"""The interstitial's Continue, and the viewer's content filter under /settings."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden

from ..errors import with_message
from . import bp, gate, services
from .forms import ContentFilterForm, ContinueForm
from .labels import label_names

MINOR_REFUSED = "This content is for adults. It isn't available on accounts of members under 18."

bp.add_app_template_global(label_names, "content_label_names")
bp.add_app_template_global(lambda item: gate.gate_for(item, current_user), "mature_gate")
bp.add_app_template_global(lambda item: gate.blur_thumbnail(item, current_user), "blur_thumbnail")


def _watch_page(target: str | None) -> str:
    """Only same-site paths are a place to go back to after Continue."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target:
            return target
    return url_for("home.index")


@bp.route("/mature/continue", methods=["POST"])
def continue_():
    form = ContinueForm()
    if not form.validate_on_submit():
        raise with_message(Forbidden(), "The form expired. Go back and press Continue again.")
    if not services.pass_interstitial(current_user):
        raise with_message(Forbidden(), MINOR_REFUSED)
    return gate.set_pass_cookie(redirect(_watch_page(form.next.data), 303), current_user)


@bp.route("/settings/content", methods=["GET", "POST"])
@login_required
def content_filter():
    form = ContentFilterForm(hide_labelled=current_user.hide_labelled)
    if form.validate_on_submit():
        services.set_hide_labelled(current_user, form.hide_labelled.data)
        flash("Your content preferences were saved.", "success")
        return redirect(url_for("mature.content_filter"), 303)
    return render_template("settings/content.html", form=form, passed=gate.viewer_passed(current_user),
                           minor=current_user.is_minor())
