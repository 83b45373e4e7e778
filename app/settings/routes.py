"""Account settings pages."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user

from ..auth import services as accounts
from . import bp
from .forms import EmailForm, PasswordForm


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
    return render_template("settings/account.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data)
        except accounts.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            # The nonce changed, so this session is renewed while every other one ends.
            login_user(current_user._get_current_object())
            flash("Password changed. Other devices have been signed out.", "success")
            return redirect(url_for("settings.password"), 303)
    return render_template("settings/password.html", form=form)
