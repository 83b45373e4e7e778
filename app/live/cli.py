"""`flask live ...`: what the live runtime is doing, from the shell."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import get_redis
from . import admin
from .state import LiveKeys

live_cli = AppGroup("live", help="Inspect the live runtime (live hosts and their sessions).")


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in (headers, *rows)]


def host_cells(host: admin.HostRow) -> list[str]:
    return [host.id, f"{host.capacity_cores:.2f}", f"{host.reserved_cores:.2f}", f"{host.load_cores:.2f}",
            f"{host.hw_used}/{host.hw_sessions}", host.encoder, str(host.sessions),
            f"{host.heartbeat_age:.1f} s ago"]


def session_cells(session: admin.SessionRow) -> list[str]:
    return [str(session.id), session.channel, session.status, session.mode_text,
            ", ".join(session.renditions) or "-", session.host or "-", "yes" if session.playable else "no"]


@live_cli.command("hosts")
def hosts_command() -> None:
    """List the live hosts (capacity, load, heartbeat) and every session that has not ended."""
    found = admin.overview(get_redis(), LiveKeys(current_app.config))
    click.echo(f"Live hosts ({len(found.hosts)})")
    if found.hosts_error:
        click.echo(f"  unknown: {found.hosts_error}")
    elif not found.hosts:
        click.echo("  none: sessions wait until one starts (python -m workers.live)")
    else:
        for line in table(["ID", "CORES", "RESERVED", "LOAD", "HW", "ENCODER", "SESSIONS", "HEARTBEAT"],
                          [host_cells(host) for host in found.hosts]):
            click.echo(f"  {line}")
    click.echo("")
    click.echo(f"Live sessions ({len(found.sessions)})")
    if not found.sessions:
        click.echo("  none")
    else:
        for line in table(["ID", "CHANNEL", "STATUS", "MODE", "RENDITIONS", "HOST", "PLAYABLE"],
                          [session_cells(session) for session in found.sessions]):
            click.echo(f"  {line}")
    if found.hosts_error:
        raise click.ClickException(f"the live hosts are unknown: {found.hosts_error}")
