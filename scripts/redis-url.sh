#!/usr/bin/env bash
# Print REDIS_URL as the app sees it (environment first, then .env, then the default).
# With --check, exit 0 when it answers PING and 1 when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."

exec .venv/bin/python - "$@" <<'PY'
import os
import sys

from dotenv import load_dotenv

load_dotenv(".env")
url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
if "--check" not in sys.argv[1:]:
    print(url)
    sys.exit(0)
from redis import Redis
from redis.exceptions import RedisError

try:
    Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping()
except (RedisError, OSError):
    sys.exit(1)
PY
