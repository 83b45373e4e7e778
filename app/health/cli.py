"""`flask doctor`: the readiness checks of /readyz as a table on the command line."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from . import checks


def marks() -> tuple[str, str]:
    """✓ and ✗, or plain letters where the terminal cannot show them."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "✓✗".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return "ok", "XX"
    return "✓", "✗"


def render(report: checks.Report) -> list[str]:
    passed, failed = marks()
    width = max(len(check.name) for check in report.checks)
    lines = []
    for check in report.checks:
        need = "required" if check.required else "optional"
        lines.append(f"{passed if check.ok else failed} {check.name.ljust(width)}  {need}  {check.finding.summary}")
        if not check.ok:
            lines.append(f"{' ' * (width + len('optional') + 6)}fix: {check.finding.fix}")
    failing = [check for check in report.checks if not check.ok]
    lines.append("")
    if report.ready and not failing:
        lines.append("Ready: every check passes.")
    elif report.ready:
        lines.append(f"Ready, degraded: the required checks pass, so pages serve; {len(failing)} optional "
                     f"check(s) fail ({', '.join(check.name for check in failing)}).")
    else:
        required = [check.name for check in failing if check.required]
        lines.append(f"Not ready: {', '.join(required)} failed, so /readyz answers 503.")
    return lines


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="print /readyz's JSON (with every detail) instead")
@with_appcontext
def doctor_command(as_json: bool) -> None:
    """Check the database, Redis, ingest, live hosts, storage and workers.

    Exits 0 when the required checks (database and Redis) pass, 1 otherwise.
    """
    report = checks.examine(current_app._get_current_object())  # type: ignore[attr-defined]  # the proxy's
    if as_json:
        click.echo(json.dumps(report.as_dict(details=True), indent=2))
    else:
        for line in render(report):
            click.echo(line)
    click.get_current_context().exit(0 if report.ready else 1)
