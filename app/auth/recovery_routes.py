"""Forgot password, reset password, one-time sign-in and verify email: the pages behind the
mailed links."""
from flask import after_this_request, current_app, flash, redirect, render_template, request, session, url_for

from .. import mail
from ..extensions import limiter
from . import bp, limits, recovery, services, tokens
from .forms import ConfirmForm
from .recovery_forms import ForgotPasswordForm, ResetPasswordForm
from .routes import _limited, _start_session

# Asking for a reset mails someone: limited per address asked about (nobody's inbox can be
# flooded, from however many addresses), and more loosely per address of the asker (a meetup
# behind one address may all have forgotten). Only asks that were accepted count.
FORGOT_RATE_LIMIT = "5 per hour"
FORGOT_PER_ASKER_RATE_LIMIT = "20 per hour"
# The reset link's token is kept in the session, not the address bar: the page then has a URL
# without a secret in it to show, bookmark, log or leak through a Referer.
RESET_SESSION_KEY = "password_reset_token"
LOGIN_LINK_SESSION_KEY = "login_link_token"  # the same, for a sign-in link

# What went wrong with a link, for the page that says so: (title, detail) by the link's purpose.
LINK_PROBLEMS = {
    "reset": {
        "expired": ("This link has expired", "A link to reset your password works for one hour."),
        "used": ("This link has been used", ("A reset link works once, and stops working when the "
                                             "password changes.")),
        "invalid": ("This link isn't valid", "It may be cut short: copy the whole link from the mail."),
    },
    "login": {
        "expired": ("This link has expired", "A sign-in link works for 15 minutes."),
        "used": ("This link has been used", ("A sign-in link works once, and stops working when you log "
                                             "in another way or the password changes.")),
        "invalid": ("This link isn't valid", "It may be cut short: copy the whole link from the mail."),
    },
    "verify": {
        "expired": ("This link has expired", "A verification link works for a week."),
        "changed": ("This link is for an old address", ("Your account's email address has changed "
                                                        "since this link was sent.")),
        "invalid": ("This link isn't valid", "It may be cut short: copy the whole link from the mail."),
    },
}


def _accepted(response) -> bool:
    return response.status_code == 303


def _forgot_key() -> str:
    return "forgot-email:" + (request.form.get("email") or "").strip().lower()[:254]


def _forgot_limited(limit):
    return _limited("auth/forgot_password.html", ForgotPasswordForm(),
                    "We've sent several links lately, so new ones wait a while.", limit)


def _link_problem(purpose: str, error: tokens.LinkError):
    title, detail = LINK_PROBLEMS[purpose].get(error.reason, LINK_PROBLEMS[purpose]["invalid"])
    return render_template("auth/link_problem.html", purpose=purpose, title=title, detail=detail), 400


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(FORGOT_PER_ASKER_RATE_LIMIT, methods=["POST"], deduct_when=_accepted,
               on_breach=_forgot_limited)
@limiter.limit(FORGOT_RATE_LIMIT, methods=["POST"], key_func=_forgot_key, scope="forgot-email",
               deduct_when=_accepted, on_breach=_forgot_limited)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        recovery.request_password_reset(form.email.data, mail.site_url())
        return redirect(url_for("auth.forgot_password_sent"), 303)
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/forgot-password/sent")
def forgot_password_sent():
    return render_template("auth/forgot_password_sent.html",
                           hours=int(tokens.RESET_MAX_AGE.total_seconds() // 3600))


@bp.route("/reset-password/<token>")
def reset_link(token: str):
    try:
        tokens.user_for_reset(token)
    except tokens.LinkError as error:
        return _link_problem("reset", error)
    session[RESET_SESSION_KEY] = token
    return redirect(url_for("auth.reset_password"), 303)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    try:
        user = tokens.user_for_reset(session.get(RESET_SESSION_KEY) or "")
    except tokens.LinkError as error:
        session.pop(RESET_SESSION_KEY, None)
        return _link_problem("reset", error)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            recovery.reset_password(user, form.password.data)
        except services.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            session.clear()  # every login of the account ended, this browser's too
            # The new password's owner is at this browser: it may log in past the per-account
            # limit (a guesser's failures cannot keep the owner out after a reset).
            after_this_request(lambda response: limits.remember_browser(response, user))
            flash("Your password has been changed and every device signed out. "
                  "Log in with your new password.", "success")
            return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset_password.html", form=form, user=user)


def _refused_link(response) -> bool:
    return response.status_code == 400


# A link past the per-account login limit: refused links count per address, like failed logins.
_login_link_limit = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="login-link",
                                         deduct_when=_refused_link)


# Opening the mailed link only moves its token into the session (as a reset link does); signing
# in takes the button's POST, so a mail scanner that opens links does not use it up.
@bp.route("/login-link/<token>")
@_login_link_limit
def login_link(token: str):
    try:
        tokens.user_for_login_link(token)
    except tokens.LinkError as error:
        return _link_problem("login", error)
    session[LOGIN_LINK_SESSION_KEY] = token
    return redirect(url_for("auth.login_link_confirm"), 303)


@bp.route("/login-link", methods=["GET", "POST"])
@_login_link_limit
def login_link_confirm():
    try:
        user = tokens.user_for_login_link(session.get(LOGIN_LINK_SESSION_KEY) or "")
    except tokens.LinkError as error:
        session.pop(LOGIN_LINK_SESSION_KEY, None)
        return _link_problem("login", error)
    form = ConfirmForm()
    if form.validate_on_submit():
        # A login like any other: a fresh session (the token goes with the old one), a record the
        # owner can end, and this browser known from now on; the last-login time moves on, and
        # with it the link stops working.
        _start_session(user)
        services.record_login(user)
        flash(f"You're signed in, {user.username}. This browser can now log in with your password.", "success")
        return redirect(url_for("home.index"), 303)
    return render_template("auth/login_link.html", form=form, user=user,
                           minutes=int(tokens.LOGIN_LINK_MAX_AGE.total_seconds() // 60))


@bp.route("/verify-email/<token>")
def verify_email(token: str):
    try:
        user = tokens.user_for_verification(token)
    except tokens.LinkError as error:
        return _link_problem("verify", error)
    recovery.mark_verified(user)
    return render_template("auth/email_verified.html", user=user)
