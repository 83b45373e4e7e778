#!/usr/bin/env bash
# `make run`'s last step: every process of supervisord.conf under supervisord, Redis too when
# REDIS_URL does not answer. A process that dies is restarted; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

export CASCADE_VAR="${CASCADE_VAR:-$PWD/var}"
mkdir -p "$CASCADE_VAR/log"
export CASCADE_USER="$(id -un)"
export CASCADE_REDIS=false
if ! scripts/redis-url.sh --check; then
    echo "start: Redis at REDIS_URL does not answer; starting one (supervisord.conf [program:redis])"
    CASCADE_REDIS=true
fi
read -r http rtmp < <(.venv/bin/python -c 'from app.config import Config; print(Config.HTTP_PORT, Config.RTMP_PORT)')
echo "start: Cascade Live on http://127.0.0.1:${http}  RTMP rtmp://127.0.0.1:${rtmp}/live  (Ctrl-C stops)"
exec .venv/bin/supervisord -c supervisord.conf
