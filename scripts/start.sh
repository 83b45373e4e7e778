#!/usr/bin/env bash
# `make run`'s last step: every Procfile process under honcho; Redis too when REDIS_URL does
# not answer. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

processes=(web worker live ingest)
if ! scripts/redis-url.sh --check; then
    echo "start: Redis at REDIS_URL does not answer; starting one (Procfile redis)"
    processes+=(redis)
fi
read -r http rtmp < <(.venv/bin/python -c 'from app.config import Config; print(Config.HTTP_PORT, Config.RTMP_PORT)')
echo "start: Cascade Live on http://127.0.0.1:${http}  RTMP rtmp://127.0.0.1:${rtmp}/live  (Ctrl-C stops)"
exec .venv/bin/honcho start "${processes[@]}"
