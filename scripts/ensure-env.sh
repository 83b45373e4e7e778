#!/usr/bin/env bash
# Give .env a random SECRET_KEY and HOOK_SECRET when it lacks them (values are never printed).
set -euo pipefail
cd "$(dirname "$0")/.."

umask 077
touch .env
for name in SECRET_KEY HOOK_SECRET; do
    if ! grep -Eq "^[[:space:]]*(export[[:space:]]+)?${name}=." .env; then
        value="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        # Keep a missing final newline from gluing two settings together.
        [ -s .env ] && [ -n "$(tail -c1 .env)" ] && echo >> .env
        echo "${name}=${value}" >> .env
        echo "ensure-env: wrote a new ${name} to .env"
    fi
done
chmod 600 .env
