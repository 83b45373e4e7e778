"""Registers every `flask ...` command group the project has."""
from flask import Flask


def init_app(app: Flask) -> None:
    from .auth.cli import users_cli
    from .channels.cli import channels_cli
    from .deploy.nginx import nginx_cli
    from .health.cli import doctor_command
    from .legal.cli import legal_cli
    from .live.cli import live_cli
    from .moderation.cli import chat_cli
    from .safety.cli import safety_cli
    from .seed import seed_cli
    from .storage.cli import storage_cli
    from .vods.cli import vods_cli

    for group in (users_cli, channels_cli, nginx_cli, storage_cli, seed_cli):
        app.cli.add_command(group)
    app.cli.add_command(chat_cli)
    app.cli.add_command(vods_cli)
    app.cli.add_command(live_cli)
    app.cli.add_command(doctor_command)
    app.cli.add_command(legal_cli)
    app.cli.add_command(safety_cli)
