"""Log lines from our own code ("app.*" and the jobs' "workers.*" loggers) to stderr, where
supervisord, gunicorn and the RQ worker collect them. Under supervisord every process writes to
the same terminal, so each line carries the process's name (CASCADE_PROCESS, set by scripts/supervisord_conf.py)."""
import logging
import os
import re
import sys

from flask import Flask
from gunicorn.glogging import Logger as GunicornLogger

OUR_LOGGERS = ("app", "workers")
# Links mailed to people (app.auth.recovery_routes) carry a one-time token in their path: access
# logs (gunicorn's below, nginx's through app.deploy.nginx) write "[token]" in its place.
TOKEN_PATHS = ("/reset-password/", "/verify-email/")
TOKEN_IN_PATH = re.compile("(" + "|".join(re.escape(path) for path in TOKEN_PATHS) + r")[^\s?\"]+")


def redact(text: str) -> str:
    """`text` with the token of every mailed link in it replaced by "[token]"."""
    return TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's access log without the tokens of mailed links (request line, path, referrer)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


def init_app(app: Flask) -> None:
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(app.config["LOG_LEVEL"])
        if not any(getattr(h, "_cascade", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler._cascade = True  # type: ignore[attr-defined]  # marks ours, so a second app adds none
            tag = os.environ.get("CASCADE_PROCESS")
            handler.setFormatter(logging.Formatter(
                f"%(asctime)s {tag + ' ' if tag else ''}%(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
