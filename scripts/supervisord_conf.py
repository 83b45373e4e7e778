"""supervisord's config for the Procfile's processes, the one list of what runs on a box.

`make run` (scripts/start.sh) and the fault suite run every Procfile process under supervisord:
a process that dies is started again (one that dies within `startsecs` of starting, after 1 s,
2 s, 3 s...: supervisord's backoff) while the others keep running, and SIGINT (Ctrl-C) or SIGTERM
to supervisord stops them all. Each runs as `bash -c '<its Procfile line>'` in the checkout, with
supervisord's environment plus CASCADE_PROCESS=<name> (each log line names its process) and
PROMETHEUS_MULTIPROC_DIR=VAR_DIR/metrics (app.metrics.registry); signals
go to its whole process group, so the ffmpeg and RQ children of a stopped process stop with it.
Production: docs/systemd.md.

    python scripts/supervisord_conf.py VAR_DIR [--start web,worker,...]

writes VAR_DIR/supervisord.conf (its log, pid file and control socket in VAR_DIR too) and prints
its path; processes left out of --start (default: all but redis) are listed but not started.
Then: `.venv/bin/supervisorctl -c VAR_DIR/supervisord.conf status|restart web|tail -f live`.
"""
from __future__ import annotations

import argparse
import getpass
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# How each process is started and stopped, beyond the defaults below: the order (lower first;
# stopped in reverse), how long it must run to count as started, and how long it gets to stop.
SETTINGS = {
    "redis": {"priority": 10, "startsecs": 1},
    "web": {"priority": 20, "startsecs": 3, "stopwaitsecs": 10},
    "worker": {"priority": 30, "startsecs": 3, "stopwaitsecs": 20},
    # SIGTERM: the host closes its sessions' playlists and hands the sessions back.
    "live": {"priority": 30, "startsecs": 3, "stopwaitsecs": 15},
    # SIGTERM is nginx's fast shutdown; a graceful one (SIGQUIT) waits for every publisher to leave.
    "ingest": {"priority": 40, "startsecs": 1, "stopwaitsecs": 10},
}
DEFAULTS = {"priority": 50, "startsecs": 3, "stopwaitsecs": 10}


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """name -> command, in the Procfile's order."""
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line):
            found[match.group(1)] = match.group(2)
    return found


def _quoted(command: str) -> str:
    """The command as one single-quoted bash argument, with supervisord's % escaped."""
    return "'" + command.replace("'", "'\\''").replace("%", "%%") + "'"


def render(var: Path, start: set[str], user: str, password: str) -> str:
    lines = [
        "; Written by scripts/supervisord_conf.py from the Procfile: edit those, not this.",
        "[supervisord]",
        "nodaemon=true",
        f"user={user}",  # whoever runs it: a root run says so instead of warning about it
        f"logfile={var}/log/supervisord.log",
        "logfile_maxbytes=10MB",
        "logfile_backups=3",
        f"pidfile={var}/supervisord.pid",
        f"childlogdir={var}/log",
        "loglevel=info",
        f"directory={ROOT}",
        "",
        # The control socket: only its owner may open it, with this run's password (this file
        # is mode 0600), which supervisorctl reads from here.
        "[unix_http_server]",
        f"file={var}/supervisor.sock",
        "chmod=0700",
        "username=cascade",
        f"password={password}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{var}/supervisor.sock",
        "username=cascade",
        f"password={password}",
    ]
    for name, command in procfile().items():
        settings = {**DEFAULTS, **SETTINGS.get(name, {})}
        lines += [
            "",
            f"[program:{name}]",
            f"command=/bin/bash -c {_quoted(command)}",
            f"directory={ROOT}",
            f'environment=CASCADE_PROCESS="{name}",CASCADE_VAR="{var}"',
            f"autostart={'true' if name in start else 'false'}",
            "autorestart=true",
            f"priority={settings['priority']}",
            f"startsecs={settings['startsecs']}",
            "startretries=1000",
            "stopsignal=TERM",
            f"stopwaitsecs={settings['stopwaitsecs']}",
            "stopasgroup=true",
            "killasgroup=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
            "redirect_stderr=true",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("var", type=Path, help="the runtime directory (var/)")
    parser.add_argument("--start", help="comma-separated processes to start (default: all but redis)")
    args = parser.parse_args(argv)
    names = procfile()
    start = set(args.start.split(",")) if args.start else set(names) - {"redis"}
    if unknown := start - set(names):
        parser.error(f"not in the Procfile: {', '.join(sorted(unknown))}")
    var = args.var.resolve()
    (var / "log").mkdir(parents=True, exist_ok=True)
    path = var / "supervisord.conf"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(render(var, start, getpass.getuser(), secrets.token_urlsafe(24)))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
