"""Sign up, log in and log out."""
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from . import bp, services, sessions
from .forms import ConfirmForm, LoginForm, SignupForm


def _safe_next(target: str | None) -> str:
    """Only same-site paths may be a redirect target after login."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


def _start_session(user, remember: bool = False) -> None:
    """Log `user` in on a fresh session: nothing from before the login survives (its CSRF token
    least of all, so a token planted or read before login is worthless after), and the login gets
    a server-side record that logout, "sign out everywhere" and password changes can end."""
    session.clear()
    sessions.begin(user, request.headers.get("User-Agent", ""))
    login_user(user, remember=remember)


def _login_attempt_key() -> str:
    return "login-name:" + (request.form.get("login") or "").strip().lower()[:254]


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNUP_RATE_LIMIT"], methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.create_account(
                form.username.data, form.email.data, form.password.data, form.birth_date.data,
                min_age=current_app.config["MIN_SIGNUP_AGE"])
        except services.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            _start_session(user)
            services.record_login(user)
            flash(f"Welcome to {current_app.config['SITE_NAME']}, {user.username}! "
                  "Create a stream key below to go live.", "success")
            return redirect(url_for("dashboard.index"), 303)
    return render_template("auth/signup.html", form=form)


# Failed attempts count per address and per account name; a success costs nothing.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               deduct_when=lambda response: response.status_code != 303)
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=_login_attempt_key, scope="login-name",
               deduct_when=lambda response: response.status_code != 303)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.login.data, form.password.data)
        if user is None:
            form.password.errors.append("Wrong username or password.")
        elif user.disabled:
            form.login.errors.append("This account has been disabled. Contact the site's admins.")
        else:
            _start_session(user, remember=form.remember.data)
            services.record_login(user)
            return redirect(_safe_next(request.args.get("next")), 303)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    form = ConfirmForm()
    if form.validate_on_submit():
        sessions.end(current_user.session_token)  # copies of its cookies stop working too
        session.clear()
        logout_user()  # after clear(): it asks for the remember cookie to be deleted
        flash("You're logged out.", "info")
        return redirect(url_for("home.index"), 303)
    return render_template("auth/logout.html", form=form)
