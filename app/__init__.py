"""Cascade Live: a self-hostable live-streaming site."""
import os
from importlib import import_module

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Modules that register handlers when imported, and are imported by create_app only. A blueprint
# package's __init__ just makes its bp, so a worker that imports app.follow.services loads that
# package's services and models, not its pages (CONTRIBUTING: workers import services, never routes).
# Socket.IO handlers must exist before socketio.init_app.
SOCKETIO_MODULES = ("app.chat.events", "app.dashboard.events", "app.follow.events")
ROUTE_MODULES = (
    "app.admin.routes", "app.analytics.routes", "app.api.routes", "app.auth.erasure_routes",
    "app.auth.recovery_routes", "app.auth.routes",
    "app.channels.routes", "app.chat.routes", "app.dashboard.routes", "app.directory.routes",
    "app.follow.routes", "app.health.routes", "app.hls.routes", "app.home.routes", "app.hooks.routes",
    "app.legal.routes", "app.mature.routes", "app.metrics.routes",
    "app.moderation.pages", "app.moderation.routes", "app.moderation.site_terms", "app.profiles.routes",
    "app.privacy.routes", "app.safety.dmca_routes", "app.safety.routes",
    "app.settings.donations", "app.settings.privacy", "app.settings.profile", "app.settings.routes",
    "app.vods.objects",
    "app.vods.routes",
)


def create_app(test_config: dict | None = None) -> Flask:
    from .environment import exit_on_config_error

    with exit_on_config_error():  # before anything else reads the settings
        from .config import ROOT, Config, private_sqlite_file
    from . import chat, cli, errors, logs, security, static_files
    from .extensions import csrf, db, limiter, login_manager, migrate, socketio, socketio_channel
    from .ids import RowIdConverter
    from .metrics.sockets import counting_socketio_queue

    app = Flask(__name__, instance_relative_config=True)
    # Before any blueprint adds a rule: each <int:...> then gets the bounded converter.
    app.url_map.converters["int"] = RowIdConverter
    app.config.from_object(Config())
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)  # home of the default SQLite file
    private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])

    from . import models  # noqa: F401 - registers every table on db.metadata

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    for name in SOCKETIO_MODULES:
        import_module(name)

    if not app.config.get("SOCKETIO_USE_QUEUE", True):
        # init_app merges into the options an earlier app in this process left (tests build
        # many apps): an app without a queue must not inherit an earlier one's queue manager.
        socketio.server_options.pop("client_manager", None)  # type: ignore[attr-defined]  # not in its stubs
    queue: dict = {"message_queue": None}  # named either way: init_app keeps an earlier app's options
    if app.config.get("SOCKETIO_USE_QUEUE", True):
        queue = {"message_queue": app.config["REDIS_URL"],
                 "client_manager": counting_socketio_queue(app.config["REDIS_URL"], socketio_channel(app.config))}
    # async_mode None (the default) lets Flask-SocketIO choose; its stubs only admit a name.
    socketio.init_app(app, async_mode=app.config.get("SOCKETIO_ASYNC_MODE"), **queue)  # type: ignore[arg-type]
    if app.config["PROXY_COUNT"]:
        # Outermost, so Socket.IO requests see the client's address too.
        n = app.config["PROXY_COUNT"]
        # Flask's documented way to wrap the WSGI app in middleware.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .channels import bp as channels_bp
    from .chat import bp as chat_bp
    from .dashboard import bp as dashboard_bp
    from .directory import bp as directory_bp
    from .follow import bp as follow_bp
    from .health import bp as health_bp
    from .hls import bp as hls_bp
    from .home import bp as home_bp
    from .hooks import bp as hooks_bp
    from .legal import bp as legal_bp
    from .mature import bp as mature_bp
    from .metrics import bp as metrics_bp
    from .metrics import http as metrics_http
    from .moderation import bp as moderation_bp
    from .privacy import bp as privacy_bp
    from .profiles import bp as profiles_bp
    from .safety import bp as safety_bp
    from .settings import bp as settings_bp
    from .vods import bp as vods_bp

    for name in ROUTE_MODULES:  # before the first registration: Flask refuses a route after it
        import_module(name)
    for bp in (home_bp, auth_bp, settings_bp, dashboard_bp, channels_bp, profiles_bp,
               directory_bp, api_bp, hooks_bp, chat_bp, moderation_bp, hls_bp, follow_bp, vods_bp,
               admin_bp, health_bp, legal_bp, privacy_bp, mature_bp, safety_bp, metrics_bp):
        app.register_blueprint(bp)

    logs.init_app(app)
    security.init_app(app)
    static_files.init_app(app)
    errors.init_app(app)
    metrics_http.init_app(app)
    cli.init_app(app)
    chat.init_app(app)
    return app
