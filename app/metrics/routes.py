"""GET /metrics: Prometheus's text format, for loopback and METRICS_ALLOW, or a bearer token."""
from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from flask import Response, current_app, request
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ..extensions import limiter
from . import bp
from .collectors import BoxCollector
from .registry import scrape_registry


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def may_scrape(address: str | None, authorization: str | None) -> bool:
    """Whether a request from `address` (the client's, after the proxies PROXY_COUNT trusts)
    with this Authorization header may read the metrics."""
    token = current_app.config.get("METRICS_TOKEN")
    if token and authorization and authorization.startswith("Bearer ") \
            and hmac.compare_digest(authorization[len("Bearer "):].strip().encode(), token.encode()):
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in _networks(current_app.config["METRICS_ALLOW"]))


@bp.route("/metrics")
@limiter.exempt  # Prometheus asks every 15 s or so, and may be behind one address with others
def metrics() -> Response:
    if not may_scrape(request.remote_addr, request.headers.get("Authorization")):
        return Response("metrics are not public: ask from METRICS_ALLOW or with METRICS_TOKEN\n", status=403,
                        mimetype="text/plain")
    registry = scrape_registry([BoxCollector(current_app.config)])
    # Text format 0.0.4: what every Prometheus reads (Debian's 2.x among them); our names need no more.
    response = Response(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response.headers["Cache-Control"] = "no-store"
    return response
