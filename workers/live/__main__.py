"""`python -m workers.live`: this machine's live host. Waits for Redis, measures what encoding
costs here (or reads LIVE_COST_MODEL), then runs live sessions until SIGTERM or Ctrl-C."""
from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys

from workers.__main__ import wait_for_redis
from workers.context import get_app

log = logging.getLogger("workers.live")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.live", description=__doc__)
    parser.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for Redis to answer (default 30)")
    parser.add_argument("--id", help="this host's id (default LIVE_HOST_ID, else host name and pid)")
    args = parser.parse_args(argv)

    app = get_app()
    redis = wait_for_redis(app.config["REDIS_URL"], args.wait)
    with app.app_context():
        from app.live.state import LiveKeys
        from workers.live.calibration import cost_model
        from workers.live.host import LiveHost

        model = cost_model(app.config.get("LIVE_COST_MODEL"), redis,
                           LiveKeys(app.config).cost_model(socket.gethostname()))
        host = LiveHost(app, host_id=args.id, model=model)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: host.stop())
        host.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
