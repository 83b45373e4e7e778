"""`flask chat terms ...`: the site-wide blocked-term list, kept from the shell."""
import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..chat import filters
from ..extensions import db
from ..models import BlockedTerm
from . import services

chat_cli = AppGroup("chat", help="Manage chat across the whole site.")


@chat_cli.group("terms")
def terms() -> None:
    """Blocked terms refused in every channel's chat."""


def _site_wide():
    return BlockedTerm.channel_id.is_(None)


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
    # The operator at the shell vouches for the change, so no admin account is needed
    # (services.add_blocked_term asks for one).
    try:
        tidy = filters.validate_term(term)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if db.session.scalar(select(BlockedTerm.id).where(_site_wide(), BlockedTerm.term == tidy)):
        raise click.ClickException(f"“{tidy}” is already on the site-wide list.")
    count = db.session.scalar(select(func.count(BlockedTerm.id)).where(_site_wide()))
    if count >= services.MAX_TERMS:
        raise click.ClickException(f"The list holds at most {services.MAX_TERMS} terms.")
    db.session.add(BlockedTerm(channel_id=None, term=tidy, created_by_id=None))
    db.session.commit()
    click.echo(f"Blocked “{tidy}” site-wide.")


@terms.command("remove")
@click.argument("term")
def remove_term(term: str) -> None:
    """Take TERM off the site-wide list (as listed, or as typed when adding it)."""
    try:
        tidy = filters.validate_term(term)
    except ValueError:
        tidy = term.strip()
    row = db.session.scalar(select(BlockedTerm).where(_site_wide(), BlockedTerm.term == tidy))
    if row is None:
        raise click.ClickException(f"“{tidy}” is not on the site-wide list.")
    db.session.delete(row)
    db.session.commit()
    click.echo(f"Removed “{tidy}” from the site-wide list.")
