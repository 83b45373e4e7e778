#!/usr/bin/env bash
# `make test`: a Redis answering at REDIS_URL; starts a daemonized one without persistence
# (data in var/redis, pid in var/redis/redis.pid) when none does.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/redis-url.sh --check && exit 0
url="$(scripts/redis-url.sh)"
read -r host port < <(.venv/bin/python -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1", u.port or 6379)' "$url")
case "$host" in
    127.0.0.1|localhost|::1) ;;
    *) echo "ensure-redis: REDIS_URL points at ${host}, which does not answer" >&2; exit 1 ;;
esac
command -v redis-server >/dev/null || scripts/install-system.sh redis-server
mkdir -p var/redis
echo "ensure-redis: starting redis-server on 127.0.0.1:${port}"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$PWD/var/redis" --pidfile "$PWD/var/redis/redis.pid" \
    --logfile "$PWD/var/redis/redis.log"
for _ in $(seq 40); do scripts/redis-url.sh --check && exit 0; sleep 0.25; done
echo "ensure-redis: Redis did not come up on port ${port}; see var/redis/redis.log" >&2
exit 1
