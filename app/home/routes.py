"""Home page, theme preference and health check."""
from flask import jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import text

from ..directory import services as directory
from ..extensions import db, get_redis
from ..mature import services as mature_content
from . import bp

THEMES = ("auto", "dark", "light")
THEME_COOKIE = "theme"


@bp.app_context_processor
def inject_theme():
    theme = request.cookies.get(THEME_COOKIE, "auto")
    return {"theme": theme if theme in THEMES else "auto"}


HOME_LIVE = 8


@bp.route("/")
def index():
    live, counts = directory.ordered_live()
    if mature_content.hides_labelled(current_user):  # Settings → Content (the channels you follow stay)
        live = mature_content.without_labelled(live)
    followed, followed_counts = directory.followed_live(current_user) if current_user.is_authenticated else ([], {})
    return render_template("home/index.html", live=live[:HOME_LIVE], more_live=len(live) > HOME_LIVE,
                           followed=followed, viewers={**counts, **followed_counts},
                           categories=directory.categories_by_live())


@bp.route("/theme", methods=["POST"])
def set_theme():
    """The no-JavaScript path of the theme toggle; site.js sets the same cookie directly."""
    theme = request.form.get("theme", "auto")
    if theme not in THEMES:
        theme = "auto"
    back = request.referrer
    target = back if back and back.startswith(request.host_url) else url_for("home.index")
    response = make_response(redirect(target, 303))
    response.set_cookie(THEME_COOKIE, theme, max_age=365 * 24 * 3600, samesite="Lax", httponly=False)
    return response


@bp.route("/healthz")
def healthz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any Redis failure means unhealthy
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503
