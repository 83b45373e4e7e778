"""gunicorn's settings for `make run` (the Procfile's `web`; gunicorn reads this file from
the working directory). Command-line flags override it (the end-to-end tests bind their own port)."""
from app.environment import exit_on_config_error

with exit_on_config_error():  # a bad setting stops gunicorn's master with its name, not a traceback
    from app.config import UPSTREAM_IDLE_SECONDS, Config

bind = f"127.0.0.1:{Config.WEB_PORT}"
# One gevent worker: Socket.IO needs gevent's WebSockets, and one process holds every socket.
worker_class = "gevent"
workers = 1
worker_connections = 20000
graceful_timeout = 5
# Longer than nginx keeps an idle upstream connection, so nginx is always the side that closes it.
keepalive = UPSTREAM_IDLE_SECONDS + 15
accesslog = "-"
logger_class = "app.logs.RedactingGunicornLogger"  # mailed links' tokens never logged


def child_exit(server, worker):
    """A worker is gone: drop its live gauges from /metrics (open sockets); its counters stay in
    the multiprocess folder, so totals never go down (app.metrics.registry)."""
    from app.metrics.registry import process_gone

    process_gone(worker.pid)
