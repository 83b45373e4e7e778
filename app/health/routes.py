"""GET /readyz: whether this site can serve, check by check (app.health.checks).

Everyone gets the status and each check's name, ok and required; what is wrong, how to fix it
and the numbers behind it (hosts, paths, ports) only go to requests from the box itself and to
site admins, since /readyz is public through nginx.
"""
from __future__ import annotations

import ipaddress
import time

from flask import current_app, jsonify, request
from flask_login import current_user

from . import bp, checks

# A report is reused this long, so a flood of requests to a public URL cannot turn into a flood
# of database, Redis, nginx and S3 calls (probes come every few seconds at most).
CACHE_SECONDS = 2.0


def report_for_now() -> checks.Report:
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's own method
    cached = app.extensions.get("cascade_readiness")
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    report = checks.examine(app)
    app.extensions["cascade_readiness"] = (time.monotonic(), report)
    return report


def from_the_box() -> bool:
    """The client (as ProxyFix/PROXY_COUNT finds it behind nginx) is on a loopback address."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def may_see_details(report: checks.Report) -> bool:
    if from_the_box():
        return True
    if not report.check("database").ok:
        return False  # the admin's row cannot be read, and trying could wait on the database
    try:
        return bool(current_user.is_authenticated and current_user.is_admin)
    except Exception:  # noqa: BLE001 - whoever we cannot identify sees the public answer
        return False


@bp.route("/readyz")
def readyz():
    report = report_for_now()
    details = may_see_details(report)
    body = report.as_dict(details=details)
    if not details:
        body["details"] = "shown to requests from the box itself and to site admins; or run `flask doctor` there"
    response = jsonify(body)
    response.status_code = 200 if report.ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
