"""Operations metrics: GET /metrics in Prometheus's text format (docs/metrics/README.md)."""
from flask import Blueprint

bp = Blueprint("metrics", __name__)
# The route registers on bp when create_app imports app.metrics.routes (app.ROUTE_MODULES); the
# instruments live in app.metrics.registry, which workers and the live hosts import alone.
