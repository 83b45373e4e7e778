"""Sign up, log in and log out."""
from urllib.parse import urlsplit

from flask import (
    after_this_request,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from .. import mail
from ..extensions import limiter
from . import age, bp, limits, recovery, services, sessions
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
    after_this_request(lambda response: limits.remember_browser(response, user))


def _limited(template: str, form, message: str, limit):
    """The form again, as it was typed (passwords excepted), with why and when to try again."""
    wait = limits.seconds_until(limit.reset_at)
    response = make_response(render_template(
        template, form=form, limited=f"{message} Try again {limits.retry_phrase(wait)}."), 429)
    response.headers["Retry-After"] = str(int(wait))
    return response


def _succeeded(response) -> bool:
    return response.status_code == 303


def _refused():
    """The page a browser refused at the age screen gets, now and on every later visit."""
    return make_response(render_template("auth/signup_refused.html", message=age.REFUSED_MESSAGE), 403)


# Only accounts made count against the per-address signup limit; every post counts in a far
# larger one, so a script cannot try addresses and names without end.
@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNUP_RATE_LIMIT"], methods=["POST"], deduct_when=_succeeded,
               on_breach=lambda limit: _limited(
                   "auth/signup.html", SignupForm(), "Many accounts were just made from your network, "
                   "so new ones wait a while. What you typed is kept below.", limit))
@limiter.limit(lambda: current_app.config["SIGNUP_ATTEMPT_RATE_LIMIT"], methods=["POST"],
               scope="signup-attempts", on_breach=lambda limit: _limited(
                   "auth/signup.html", SignupForm(), "Too many signup attempts from your network.", limit))
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    if age.was_refused(current_app, request):  # no second try with another date
        return _refused()
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.create_account(
                form.username.data, form.email.data, form.password.data, form.birth_date.data,
                min_age=current_app.config["MIN_SIGNUP_AGE"])
        except services.TooYoung:  # raised before anything is added to the session
            return age.refuse(current_app, _refused())
        except services.AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            _start_session(user)
            services.record_login(user)
            recovery.send_verification(user, mail.site_url())
            flash(f"Welcome to {current_app.config['SITE_NAME']}, {user.username}! "
                  "Create a stream key below to go live.", "success")
            return redirect(url_for("dashboard.index"), 303)
    return render_template("auth/signup.html", form=form)


def _named_account():
    """The account the login form names (by username or email), looked up once per request."""
    if "login_account" not in g:
        g.login_account = services.find_user((request.form.get("login") or "")[:254])
    return g.login_account


def _login_account_key() -> str:
    account = _named_account()
    if account is not None:  # its username and email share one count
        return f"login-account:{account.id}"
    return "login-name:" + (request.form.get("login") or "").strip().lower()[:254]


def _login_limited(limit):
    return _limited("auth/login.html", LoginForm(), "Too many failed logins.", limit)


ACCOUNT_LIMITED_MESSAGE = ("Too many failed logins for this account. If the password was right, we've e-mailed "
                           "you a one-time sign-in link (to the account's verified address).")


def _account_limited(limit):
    """Past the per-account limit on a browser the account does not know: the same page for any
    password, and the owner's inbox gets a sign-in link when it was right (app.auth.limits)."""
    form = LoginForm()
    if form.validate_on_submit():
        recovery.offer_login_link(form.login.data, form.password.data, mail.site_url())
    return _limited("auth/login.html", form, ACCOUNT_LIMITED_MESSAGE, limit)


# Failed attempts count per address and per account; a success costs nothing. The per-address
# limit is listed last so that it is checked first: a request past it gets no further (not even
# a password check), and one past the per-account limit still counts against its address. The
# per-account count spares a browser that has logged in to the account before, and offers a
# new one a mailed sign-in link (app/auth/limits.py), so guesses from elsewhere cannot lock
# the owner out.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=_login_account_key, scope="login-name",
               exempt_when=lambda: request.method == "POST" and limits.browser_knows(_named_account()),
               deduct_when=lambda response: not _succeeded(response), on_breach=_account_limited)
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               deduct_when=lambda response: not _succeeded(response), on_breach=_login_limited)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.login.data, form.password.data)
        if user is None:
            form.password.errors.append("Wrong username or password.")
        elif user.erasure_pending:  # before `disabled`: the grace hides the account like one
            from .erasure_routes import offer_to_keep

            return offer_to_keep(user, remember=form.remember.data)
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
