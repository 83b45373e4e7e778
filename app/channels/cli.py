"""`flask channels ...`: channel administration from the shell."""
import click
from flask.cli import AppGroup

from ..models.channel import LATENCY_MODES
from ..streams import services as streams
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
    new_key = streams.rotate_stream_key(channel)  # drops a publisher live with the old key
    click.echo(f"New stream key for {channel.slug} (the old one no longer works):", err=True)
    click.echo(new_key)


@channels_cli.command("mods")
@click.argument("name")
@click.argument("action", type=click.Choice(["list", "add", "remove"]), default="list")
@click.argument("username", required=False)
def mods(name: str, action: str, username: str | None) -> None:
    """List NAME's chat moderators, or add/remove USERNAME as one (acting as the channel's owner)."""
    from ..moderation import services as moderation

    channel = services.channel_by_slug(name) or services.channel_for_username(name)
    if channel is None:
        raise click.ClickException(f"No channel or user named {name!r}.")
    if action != "list" and not username:
        raise click.ClickException(f"Say whom to {action}: flask channels mods {name} {action} USERNAME")
    try:
        if action == "add" and username:
            moderation.add_moderator(channel, channel.owner, username)
        elif action == "remove" and username:
            target = moderation.user_by_name(username)
            moderation.remove_moderator(channel, channel.owner, target.id if target else 0)
    except moderation.ModerationError as error:
        raise click.ClickException(error.message) from None
    for role in moderation.moderators(channel):
        click.echo(role.user.username)


@channels_cli.command("latency")
@click.argument("name")
@click.argument("mode", required=False,
                type=click.Choice(LATENCY_MODES, case_sensitive=False), metavar="[low|normal]")
def latency(name: str, mode: str | None) -> None:
    """Print NAME's latency mode, or set it to MODE (low or normal) from its next stream on."""
    channel = services.channel_by_slug(name) or services.channel_for_username(name)
    if channel is None:
        raise click.ClickException(f"No channel or user named {name!r}.")
    if mode is not None:
        services.set_latency_mode(channel, mode)
    click.echo(channel.latency_mode)
