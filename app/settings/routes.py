"""Account settings pages."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..auth import services as accounts
from ..auth import sessions
from . import bp
from .forms import EmailForm, PasswordForm, SignOutOthersForm


@bp.route("/")
@login_required
def index():
    return redirect(url_for("settings.account"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = EmailForm(email=current_user.email)  # posted data wins over this default
    if form.validate_on_submit():
        try:
            accounts.change_email(current_user, form.password.data, form.email.data)
        except accounts.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            flash("Your email was updated.", "success")
            return redirect(url_for("settings.account"), 303)
    return render_template("settings/account.html", form=form, sign_out_form=SignOutOthersForm(),
                           logins=sessions.of_user(current_user), is_current=sessions.is_current)


# Like GitHub and Twitch, "everywhere" means everywhere else: the browser that asked stays in.
@bp.route("/sessions/sign-out-others", methods=["POST"])
@login_required
def sign_out_others():
    form = SignOutOthersForm()
    if form.validate_on_submit():
        ended = sessions.end_all(current_user, keep=current_user.session_token)
        flash(f"Signed out of {ended} other session{'' if ended == 1 else 's'}. "
              "This browser stays logged in.", "success")
    return redirect(url_for("settings.account"), 303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data,
                                     keep_session=current_user.session_token)
        except accounts.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            flash("Password changed. Other devices have been signed out.", "success")
            return redirect(url_for("settings.password"), 303)
    return render_template("settings/password.html", form=form)
