"""Log lines from our own code ("app.*" loggers) to stderr, where honcho and gunicorn collect them."""
import logging
import sys

from flask import Flask


def init_app(app: Flask) -> None:
    logger = logging.getLogger("app")
    logger.setLevel(app.config["LOG_LEVEL"])
    if not any(getattr(h, "_cascade", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._cascade = True
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
