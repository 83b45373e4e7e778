"""WSGI entry point for gunicorn's gevent worker: patch the standard library before anything else."""
from gevent import monkey

monkey.patch_all()

from app import create_app  # noqa: E402  (must come after the monkey-patch)

app = create_app()
