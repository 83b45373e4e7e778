"""`flask channels ...`: channel administration from the shell."""
import click
from flask.cli import AppGroup

from . import services

channels_cli = AppGroup("channels", help="Manage channels.")


@channels_cli.command("key")
@click.argument("name")
@click.option("--rotate", is_flag=True, help="Issue a new stream key and print it (the old one stops working).")
def key(name: str, rotate: bool) -> None:
    """Show whether NAME's channel has a stream key, or rotate it with --rotate."""
    channel = services.channel_by_slug(name) or services.channel_for_username(name)
    if channel is None:
        raise click.ClickException(f"No channel or user named {name!r}.")
    if not rotate:
        if channel.stream_key_hash:
            click.echo(f"{channel.slug} has a stream key (created {channel.stream_key_created_at:%Y-%m-%d %H:%M} UTC). "
                       "Keys are stored hashed and can't be shown; use --rotate for a new one.")
        else:
            click.echo(f"{channel.slug} has no stream key yet; use --rotate to create one.")
        return
    new_key = services.rotate_stream_key(channel)
    click.echo(f"New stream key for {channel.slug} (the old one no longer works):", err=True)
    click.echo(new_key)
