"""`flask users ...`: account administration from the shell."""
import click
from flask.cli import AppGroup

from . import services

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("name")
@click.option("--password", required=True, help="At least 10 characters, not a common password.")
@click.option("--email", default=None, help="Defaults to NAME@example.com (a reserved, undeliverable domain).")
@click.option("--admin", is_flag=True, help="Make the user a site admin.")
def create(name: str, password: str, email: str | None, admin: bool) -> None:
    """Create user NAME with a channel of the same name."""
    try:
        # Operators vouch for the people they create, so no date of birth is asked here.
        user = services.create_account(name, email or f"{name.lower()}@example.com", password, None,
                                       admin=admin, check_age=False)
    except services.AccountError as error:
        raise click.ClickException(f"{error.field}: {error.message}") from None
    role = "admin" if user.is_admin else "user"
    assert user.channel is not None  # create_account makes it
    click.echo(f"Created {role} {user.username} with channel /c/{user.channel.slug}")
