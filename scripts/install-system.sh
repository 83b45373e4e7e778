#!/usr/bin/env bash
# Install the Debian packages named as arguments that are not installed yet (quiet when none).
# `--python` also makes sure python3 can build a venv. apt-get update runs at most once an hour.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-system: not root and no sudo; install: $*" >&2; exit 1; }
    SUDO="sudo"
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for pkg in "$@"; do
    case "$pkg" in
        --python)
            command -v python3 >/dev/null || missing+=(python3)
            if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
            ;;
        *)
            installed "$pkg" || missing+=("$pkg")
            ;;
    esac
done
[ "${#missing[@]}" -eq 0 ] && exit 0

command -v apt-get >/dev/null || { echo "install-system: no apt-get; install by hand: ${missing[*]}" >&2; exit 1; }
echo "install-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
stamp="${TMPDIR:-/tmp}/cascade-apt-updated"
if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
    $SUDO apt-get update -qq
    touch "$stamp"
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
