"""Log lines from our own code ("app.*" and the jobs' "workers.*" loggers) to stderr, where
honcho, gunicorn and the RQ worker collect them."""
import logging
import sys

from flask import Flask

OUR_LOGGERS = ("app", "workers")


def init_app(app: Flask) -> None:
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(app.config["LOG_LEVEL"])
        if not any(getattr(h, "_cascade", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler._cascade = True
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
