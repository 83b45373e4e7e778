"""Error pages in the site's look, and JSON errors under /api and /hooks."""
from typing import TypeVar

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .pictures import max_bytes, too_large_message

E = TypeVar("E", bound=HTTPException)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You don't have permission to see this page."),
    404: ("Page not found", "There is nothing here. The channel or page may have moved."),
    405: ("Not allowed", "That action isn't available here."),
    413: ("Too large", "That upload is larger than the site accepts."),
    429: ("Slow down", "Too many attempts. Wait a little and try again."),
    500: ("Something broke", "An unexpected error happened on our side. It has been logged."),
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/hooks/"))


def render_error(code: int, description: str | None = None):
    title, default = MESSAGES.get(code, ("Error", "Something went wrong."))
    message = description or default
    if _wants_json():
        return jsonify(error=title, message=message), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def with_message(error: E, message: str) -> E:
    """`error`, whose page (or JSON) says `message` instead of the default for its status."""
    error.user_message = message  # type: ignore[attr-defined]  # read back by handle_http_error
    return error


def handle_http_error(error: HTTPException):
    # Only our own messages reach the page; werkzeug's generic ones are replaced by ours.
    description = getattr(error, "user_message", None)
    if error.code == 429 and getattr(error, "response", None) is not None:
        return error.response  # the limited page shows the limit in place (the login form)
    if error.code == 413:
        description = too_large_message(max_bytes(current_app.config))
    if error.code == 429 and getattr(getattr(error, "limit", None), "error_message", None):
        description = error.description  # the limit's own words (picture uploads, say)
    elif error.code == 429:
        description = f"Too many attempts ({error.description}). {_retry_hint()}"
    return render_error(error.code or 500, description)


def _retry_hint() -> str:
    """'Try again in 12 minutes.' from the limit just breached, or a vaguer hint without one."""
    from .auth.limits import retry_phrase, seconds_until
    from .extensions import limiter

    try:
        breached = limiter.current_limit
        if breached is not None:
            return f"Try again {retry_phrase(seconds_until(breached.reset_at))}."
    except Exception:  # noqa: BLE001 - the limiter's storage is away: the page still renders
        pass
    return "Wait a little and try again."


def handle_csrf_error(error: CSRFError):
    return render_error(400, "Your form expired or was sent from another site. "
                             "Reload the page and try again.")


def handle_server_error(error: Exception):
    db.session.rollback()
    return render_error(500)


def too_large():
    """What nginx shows for a body over its client_max_body_size (error_page 413): our 413."""
    return render_error(413, too_large_message(max_bytes(current_app.config)))


def init_app(app: Flask) -> None:
    app.add_url_rule("/internal/too-large", "too_large", too_large)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(500, handle_server_error)
