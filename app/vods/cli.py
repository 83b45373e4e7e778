"""`flask vods expire|sweep`: run retention from the shell (the worker also runs it every hour)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from . import retention

vods_cli = AppGroup("vods", help="Recordings: delete expired VODs and objects nothing refers to.")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _site_days() -> int:
    try:
        return retention.instance_retention_days()
    except retention.RetentionSettingError as error:
        raise click.ClickException(str(error)) from None


@vods_cli.command("expire")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def expire(dry_run: bool) -> None:
    """Delete VODs older than their channel keeps recordings (site default: VOD_RETENTION_DAYS)."""
    days = _site_days()
    result = retention.expire_vods(dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    for item in result.deleted:
        objects = "" if dry_run else f" and {_plural(item.objects, 'object')}"
        click.echo(f"{verb} {item.describe()}{objects}")
    for item in result.failed:
        click.echo(f"Could not delete {item.describe()}: {item.error}", err=True)
    default = "forever" if days == 0 else _plural(days, "day")
    summary = (f"{_plural(len(result.deleted), 'expired recording')} "
               f"{'would be deleted (dry run: nothing was deleted)' if dry_run else 'deleted'}; "
               f"site default: keep {default}.")
    click.echo(summary)
    if result.failed:
        raise click.ClickException(f"{_plural(len(result.failed), 'recording')} could not be deleted "
                                   "(see above); the next run tries again.")


@vods_cli.command("sweep")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete or enqueue nothing.")
@click.option("--grace-hours", type=click.IntRange(1, 24 * 365), default=24, show_default=True,
              help="Leave anything written or ended more recently than this alone.")
def sweep(dry_run: bool, grace_hours: int) -> None:
    """Delete stored objects nothing refers to: recordings without a VOD, live HLS of sessions
    long over, pictures of deleted channels and users."""
    result = retention.sweep_orphans(grace=timedelta(hours=grace_hours), dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    for item in result.deleted:
        click.echo(f"{verb} {item.where}: {_plural(item.objects, 'object')} ({item.reason})")
    for item in result.failed:
        click.echo(f"Could not delete {item.where}: {item.error}", err=True)
    for session_id in result.requeued:
        click.echo(f"{'Would re-enqueue' if dry_run else 'Re-enqueued'} the VOD job of session "
                   f"{session_id} (a recording without a VOD; the recording is kept)")
    counts = result.counts
    parts = ", ".join(f"{kind} {counts[kind]}" for kind in retention.KINDS)
    click.echo(f"{'Would delete' if dry_run else 'Deleted'} objects: {parts}; "
               f"VOD jobs {'to re-enqueue' if dry_run else 're-enqueued'}: {counts['requeued']}"
               f"{' (dry run: nothing was deleted)' if dry_run else ''}.")
    if result.failed:
        raise click.ClickException(f"{_plural(len(result.failed), 'folder')} could not be deleted "
                                   "(see above); the next run tries again.")
