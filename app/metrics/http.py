"""Counts and times every HTTP request the app answers (cascade_http_requests_total and
cascade_http_request_duration_seconds), labelled by route, never by path: a path holds names and
ids without bound, a route (the Flask endpoint) does not."""
from __future__ import annotations

import time

from flask import Flask, Response, g, request

from .registry import HTTP_DURATION, HTTP_REQUESTS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STARTED = "cascade_metrics_started"


def _started() -> None:
    setattr(g, _STARTED, time.perf_counter())


def _answered(response: Response) -> Response:
    started = getattr(g, _STARTED, None)
    if started is None:  # a request whose before_request hooks did not all run
        return response
    method = request.method if request.method in METHODS else "other"
    # No rule matched: a 404 or 405 for a path nobody routes, counted as one endpoint.
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "none"
    HTTP_REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
    HTTP_DURATION.labels(method, endpoint).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Time from the first before_request hook to the response (an unhandled error is a 500
    response by then: Flask turns it into one before after_request hooks run)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_answered)
