#!/usr/bin/env bash
# `make run`'s last step: every Procfile process under supervisord (scripts/supervisord_conf.py),
# Redis too when REDIS_URL does not answer. A process that dies is restarted; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

var="$PWD/var"
start="web,worker,live,ingest"
if ! scripts/redis-url.sh --check; then
    echo "start: Redis at REDIS_URL does not answer; starting one (Procfile redis)"
    start="$start,redis"
fi
# Every process writes its metrics in var/metrics (PROMETHEUS_MULTIPROC_DIR, set by
# supervisord_conf.py) and /metrics adds them up: last run's counts go, a box starts from zero.
rm -rf "$var/metrics"
mkdir -p "$var/metrics"
conf="$(.venv/bin/python scripts/supervisord_conf.py "$var" --start "$start")"
read -r host http rtmp < <(.venv/bin/python -c 'from app.config import Config, local_address
print(local_address(Config.BIND_ADDRESS), Config.HTTP_PORT, Config.RTMP_PORT)')
echo "start: Cascade Live on http://${host}:${http}  RTMP rtmp://${host}:${rtmp}/live  (Ctrl-C stops)"
echo "start: .venv/bin/supervisorctl -c var/supervisord.conf status   lists the processes"
exec .venv/bin/supervisord -c "$conf"
