"""Log lines from our own code ("app.*" and the jobs' "workers.*" loggers) to stderr, where
supervisord, gunicorn and the RQ worker collect them. Under supervisord every process writes to
the same terminal, so each line carries the process's name (CASCADE_PROCESS, set by scripts/supervisord_conf.py)."""
import logging
import os
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
            tag = os.environ.get("CASCADE_PROCESS")
            handler.setFormatter(logging.Formatter(
                f"%(asctime)s {tag + ' ' if tag else ''}%(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
