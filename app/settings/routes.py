"""Account settings pages."""
from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user

from .. import mail
from ..auth import deletion, recovery, sessions
from ..auth import services as accounts
from ..extensions import limiter
from ..privacy.settings import days, erasure_grace
from . import bp
from .forms import DeleteAccountForm, EmailForm, PasswordForm, ResendVerificationForm, SignOutOthersForm

# Mails an owner can have sent to themselves from this page.
VERIFICATION_RATE_LIMIT = "3 per hour"


def _account_page(form=None, delete_form=None, status=200):
    return render_template(
        "settings/account.html", form=form or EmailForm(email=current_user.email),
        sign_out_form=SignOutOthersForm(), verify_form=ResendVerificationForm(),
        delete_form=delete_form or DeleteAccountForm(), logins=sessions.of_user(current_user),
        is_current=sessions.is_current, erasure_grace=days(erasure_grace())), status


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
            changed = accounts.change_email(current_user, form.password.data, form.email.data)
        except accounts.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            if changed:
                recovery.send_verification(current_user, mail.site_url())
                flash(f"Your email was updated. We sent a link to {current_user.email} to verify it.",
                      "success")
            else:
                flash("Your email was updated.", "success")
            return redirect(url_for("settings.account"), 303)
    return _account_page(form=form)


@bp.route("/account/verification", methods=["POST"])
@login_required
@limiter.limit(VERIFICATION_RATE_LIMIT, key_func=lambda: f"verify-mail:{current_user.id}",
               scope="verify-mail")
def resend_verification():
    if ResendVerificationForm().validate_on_submit():
        if current_user.email_verified:
            flash("Your email address is already verified.", "info")
        elif recovery.send_verification(current_user, mail.site_url()):
            flash(f"We sent a new verification link to {current_user.email}.", "success")
        else:
            flash("We couldn't send the mail just now. Please try again in a few minutes.", "error")
    return redirect(url_for("settings.account"), 303)


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            erase_after = deletion.request_erasure(current_user, form.current_password.data)
        except accounts.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
            if isinstance(error, accounts.TooManyAttempts):
                return _account_page(delete_form=form, status=429)
        else:
            session.clear()
            logout_user()  # after clear(): it asks for the remember cookie to be deleted
            flash(f"Your account has been deleted. Thanks for having been here. Everything in it goes for "
                  f"good on {erase_after:%B %-d, %Y}: log in before then to keep it.", "info")
            return redirect(url_for("home.index"), 303)
    return _account_page(delete_form=form)


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
