"""Response headers every page carries, and how the login cookie finds its user."""
from flask import Flask, current_app, request

from .auth.sessions import user_for_cookie
from .extensions import login_manager

# No inline script or style anywhere: glue JS and CSS live in app/static. {connect} is this
# site's own origins (content_security_policy).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src {connect}",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def content_security_policy() -> str:
    """The policy for this request: chat's WebSocket may reach this site and nothing else.

    CSP3 browsers let 'self' match ws:/wss: on the page's own host; CSP2 ones need the WebSocket
    origin named, so it is spelled out from the host the page was loaded from (behind nginx, the
    one ProxyFix restores) in the page's own scheme, never as a bare `ws:` that allows any host.
    """
    connect = "'self'"
    host = request.host  # Werkzeug answers "" for a Host header with characters a host cannot have
    if host:
        connect += f" {'wss' if request.scheme == 'https' else 'ws'}://{host}"
    return CONTENT_SECURITY_POLICY.format(connect=connect)


def embeddable(response):
    """Let any site frame this response (the embeddable player); every other page refuses frames."""
    response.embeddable = True
    return response


def set_security_headers(response):
    headers = response.headers
    policy = content_security_policy()
    if getattr(response, "embeddable", False):
        policy = policy.replace("frame-ancestors 'none'", "frame-ancestors *")
    else:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config["SECURE_COOKIES"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


@login_manager.user_loader
def load_user(cookie_id: str):
    # The cookie names a login, not only a user: a login that has ended loads nobody.
    return user_for_cookie(cookie_id)


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
