"""`flask safety ...`: live-bans, suspensions and terminations from the console, each with its
statement of reasons (mailed to the person) and a line in the audit log, as from the admin pages."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import Channel, Sanction, User
from . import actions, audit, rules
from .actions import ActionError

safety_cli = AppGroup("safety", help="Trust and safety: live-bans, suspensions, the audit log.")

_rule = click.option("--rule", default="rule-1", show_default=True,
                     help="The reason: child_safety, illegal, copyright or rule-N (the site's rules).")
_statement = click.option("--statement", required=True, help="The statement of reasons the person reads.")
_days = click.option("--days", type=int, default=None, help="How long; without it, until lifted.")


def _user(name: str) -> User:
    user = db.session.scalar(select(User).where(User.username_lower == name.lower()))
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    return user


def _channel_owner(slug: str) -> User:
    channel = db.session.scalar(select(Channel).where(Channel.slug == slug.lower()))
    if channel is None:
        raise click.ClickException(f"no channel named {slug!r}")
    return channel.owner


def _act(target: User, kind: str, rule: str, statement: str, days: int | None) -> None:
    try:
        done = actions.act(None, target, kind, rule, statement, days=days)
        db.session.commit()
    except ActionError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    for each in done:
        actions.notify(each)
    sanction = done[0]
    until = f" until {sanction.expires_at:%Y-%m-%d %H:%M} UTC" if sanction.expires_at else ""
    click.echo(f"{actions.KIND_NAMES[kind]}: @{target.username}{until} (action {sanction.id}; statement mailed)")


def _lift(target: User, kinds: tuple[str, ...]) -> None:
    active = list(db.session.scalars(select(Sanction).where(
        Sanction.user_id == target.id, Sanction.kind.in_(kinds), Sanction.reversed_at.is_(None),
        Sanction.lifted_at.is_(None))))
    for sanction in active:
        actions.lift(sanction, None)
    if not active:  # an old ban set straight in the database: lift it all the same
        if "live_suspend" in kinds and target.channel is not None:
            target.channel.live_banned, target.channel.live_banned_until = False, None
        if "account_suspend" in kinds:
            target.disabled, target.suspended_until = False, None
        audit.record(None, f"{kinds[0]}.lifted", target_type="user", target_id=target.id,
                     target_name=f"@{target.username}")
        db.session.commit()
    click.echo(f"lifted for @{target.username} ({len(active)} action{'' if len(active) == 1 else 's'})")


@safety_cli.command("live-ban")
@click.argument("channel")
@_rule
@_statement
@_days
def live_ban(channel: str, rule: str, statement: str, days: int | None) -> None:
    """Ban CHANNEL from going live (and take it off air now)."""
    _act(_channel_owner(channel), "live_suspend", rule, statement, days)


@safety_cli.command("live-unban")
@click.argument("channel")
def live_unban(channel: str) -> None:
    """Let CHANNEL go live again."""
    _lift(_channel_owner(channel), ("live_suspend",))


@safety_cli.command("suspend")
@click.argument("username")
@_rule
@_statement
@_days
def suspend(username: str, rule: str, statement: str, days: int | None) -> None:
    """Suspend USERNAME's account (signed out everywhere, off air)."""
    _act(_user(username), "account_suspend", rule, statement, days)


@safety_cli.command("unsuspend")
@click.argument("username")
def unsuspend(username: str) -> None:
    """Lift USERNAME's suspension or termination."""
    _lift(_user(username), ("account_suspend", "terminate"))


@safety_cli.command("terminate")
@click.argument("username")
@_rule
@_statement
def terminate(username: str, rule: str, statement: str) -> None:
    """Terminate USERNAME's account for good (it can still appeal)."""
    _act(_user(username), "terminate", rule, statement, None)


@safety_cli.command("rules")
def list_rules() -> None:
    """Print the reasons actions and reports can name."""
    for reason in rules.reasons():
        click.echo(f"{reason.key}\t{reason.text}")


@safety_cli.command("audit")
@click.option("--limit", type=int, default=50, show_default=True)
def audit_lines(limit: int) -> None:
    """Print the newest audit log lines."""
    for line in audit.lines(limit=limit):
        click.echo("\t".join((f"{line.created_at:%Y-%m-%d %H:%M}", line.actor_name, line.action,
                              line.target_name, line.detail)))

