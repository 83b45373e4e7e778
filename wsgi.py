"""WSGI entry point for gunicorn's gevent worker: patch the standard library before anything else."""
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402 - after the monkey-patch, like everything

from app import create_app  # noqa: E402 - must come after the monkey-patch

app = create_app()

# A web process holds thousands of long-lived objects per chat socket. With the default
# thresholds the collector's full passes over them froze every socket for 150-560 ms at
# 2,000 viewers (bench/chat_fanout.py); freezing what startup made and collecting young
# objects less often keeps pauses under ~50 ms.
gc.freeze()
gc.set_threshold(20_000, 10, 10)
