"""`flask legal`: publish a new version of a legal page from a file, and list the versions."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from ..models import LEGAL_KINDS, utcnow

legal_cli = AppGroup("legal", help="The terms, privacy and copyright (DMCA) pages.")
KINDS = click.Choice(LEGAL_KINDS)


@legal_cli.command("publish")
@click.argument("kind", type=KINDS)
@click.argument("text", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--summary", required=True, help="What changed, in a sentence: members are shown it.")
@click.option("--effective", default="now", show_default=True,
              help="When it takes effect: now, or a date (YYYY-MM-DD, from 00:00 UTC).")
def publish_command(kind: str, text: Path, summary: str, effective: str) -> None:
    """Publish TEXT (a Markdown file) as the next version of KIND."""
    from . import services

    if effective == "now":
        at = utcnow()
    else:
        try:
            at = datetime.strptime(effective, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise click.BadParameter("a date like 2027-01-31, or now", param_hint="--effective") from None
    try:
        published = services.publish(kind, text.read_text(encoding="utf-8"), at, summary, None)
    except services.LegalError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{services.TITLES[kind]}: version {published.number}, in effect from "
               f"{published.effective_at:%Y-%m-%d %H:%M} UTC")


@legal_cli.command("versions")
@click.argument("kind", type=KINDS)
def versions_command(kind: str) -> None:
    """List KIND's versions, newest first."""
    from . import services

    in_effect = services.current(kind).number
    for shown in services.history(kind):
        when = f"{shown.effective_at:%Y-%m-%d %H:%M} UTC" if shown.effective_at else "shipped default"
        mark = "  (in effect)" if shown.number == in_effect else ""
        click.echo(f"{shown.number:>4}  {when:<20}  {shown.summary}{mark}")
