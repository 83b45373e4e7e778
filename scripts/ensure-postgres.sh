#!/usr/bin/env bash
# `make test`: PostgreSQL answering on 127.0.0.1:5432 (a local Debian cluster, installed and
# started when nothing answers) with a superuser role cascade/cascade for the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${TEST_PG_PORT:-5432}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; }

as_postgres_psql() {  # SQL on stdin, output unaligned
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "psql -X -q -t -A -v ON_ERROR_STOP=1 -p ${PORT}"
    else
        sudo -u postgres psql -X -q -t -A -v ON_ERROR_STOP=1 -p "${PORT}"
    fi
}

if ! answers; then
    command -v pg_ctlcluster >/dev/null || scripts/install-system.sh postgresql
    cluster="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p {print $1 " " $2; exit}')"
    if [ -z "$cluster" ]; then
        version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
        name=main
        if pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx main; then name=cascade; fi
        echo "ensure-postgres: creating cluster ${version}/${name} on port ${PORT}"
        $SUDO pg_createcluster --port "$PORT" "$version" "$name" >/dev/null
        cluster="$version $name"
    fi
    read -r version name <<<"$cluster"
    echo "ensure-postgres: starting cluster ${version}/${name}"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
    for _ in $(seq 60); do answers && break; sleep 0.5; done
    answers || { echo "ensure-postgres: PostgreSQL did not come up on port ${PORT}" >&2; exit 1; }
fi

# Idempotent: only creates the role when it is missing.
if ! exists="$(echo "SELECT 1 FROM pg_roles WHERE rolname = 'cascade'" | as_postgres_psql 2>/dev/null)"; then
    echo "ensure-postgres: cannot run psql as the postgres user; make sure role cascade exists" >&2
    exit 0
fi
if [ "$exists" != "1" ]; then
    echo "CREATE ROLE cascade WITH LOGIN SUPERUSER PASSWORD 'cascade'" | as_postgres_psql
    echo "ensure-postgres: created role cascade"
fi
