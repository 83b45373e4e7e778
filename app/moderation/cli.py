"""`flask chat terms ...`: the site-wide blocked-term list, kept from the shell."""
import click
from flask.cli import AppGroup

from . import services

chat_cli = AppGroup("chat", help="Manage chat across the whole site.")


@chat_cli.group("terms")
def terms() -> None:
    """Blocked terms refused in every channel's chat."""


@terms.command("list")
def list_terms() -> None:
    """Print the site-wide blocked terms, one a line."""
    rows = services.terms_for(None)
    for row in rows:
        click.echo(row.term)
    click.echo(f"{len(rows)} site-wide term{'' if len(rows) == 1 else 's'}", err=True)


@terms.command("add")
@click.argument("term")
def add_term(term: str) -> None:
    """Block TERM in every chat (use * as a wildcard; matching ignores case, accents, leetspeak)."""
    try:
        row = services.add_site_term_from_shell(term)
    except services.ModerationError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Blocked “{row.term}” site-wide.")


@terms.command("remove")
@click.argument("term")
def remove_term(term: str) -> None:
    """Take TERM off the site-wide list (as listed, or as typed when adding it)."""
    try:
        removed = services.remove_site_term_from_shell(term)
    except services.ModerationError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Removed “{removed}” from the site-wide list.")
