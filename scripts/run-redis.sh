#!/usr/bin/env bash
# Procfile `redis`: a foreground Redis on the loopback port REDIS_URL names, data in var/redis.
set -euo pipefail
cd "$(dirname "$0")/.."

url="$(scripts/redis-url.sh)"
read -r host port < <(.venv/bin/python -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1", u.port or 6379)' "$url")
case "$host" in
    127.0.0.1|localhost|::1) ;;
    *) echo "run-redis: REDIS_URL points at ${host}, not this box; start that Redis instead" >&2; exit 1 ;;
esac
mkdir -p var/redis
exec redis-server --bind 127.0.0.1 --port "$port" --dir "$PWD/var/redis" --appendonly no \
    --save 300 10 --loglevel warning
