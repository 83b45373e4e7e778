"""Log lines from our own code ("app.*" and the jobs' "workers.*" loggers) to stderr, where
supervisord, gunicorn and the RQ worker collect them. Under supervisord every process writes to
the same terminal, so each line carries the process's name (CASCADE_PROCESS, set by scripts/supervisord_conf.py)."""
import ipaddress
import logging
import os
import re
import sys

from flask import Flask
from gunicorn.glogging import Logger as GunicornLogger

OUR_LOGGERS = ("app", "workers")
# Links mailed to people (app.auth.recovery_routes: reset, sign-in and verification; a data
# export's in app.settings.privacy) carry a token in their path: access logs (gunicorn's below,
# nginx's through app.deploy.nginx) write "[token]" in its place.
TOKEN_PATHS = ("/reset-password/", "/login-link/", "/verify-email/", "/settings/privacy/exports/")
TOKEN_IN_PATH = re.compile("(" + "|".join(re.escape(path) for path in TOKEN_PATHS) + r")[^\s?\"]+")


def redact(text: str) -> str:
    """`text` with the token of every mailed link in it replaced by "[token]"."""
    return TOKEN_IN_PATH.sub(r"\1[token]", text)


# Request headers that carry a client's address.
ADDRESS_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


def anonymous_address(address: str) -> str:
    """The network an address is in, never the address: IPv4 to its /24 (203.0.113.0), IPv6 to
    its /48 (2001:db8:1::), as the access logs write it (nginx's through app.deploy.nginx)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "-"
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False).network_address)


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's access log without the tokens of mailed links (request line, path, referrer)
    and without the client's address (its network only: app.logs.anonymous_address)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        if isinstance(atoms.get("h"), str):
            atoms["h"] = anonymous_address(atoms["h"])
        for header in ADDRESS_HEADERS:  # should a log format name them
            if f"{{{header}}}i" in atoms:
                atoms[f"{{{header}}}i"] = "-"
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
