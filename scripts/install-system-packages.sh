#!/usr/bin/env bash
# Install the Debian packages the local stack needs beyond Java and Maven: prometheus (with promtool).
# Idempotent: exits at once when every command is present; otherwise runs `apt-get update` once.
set -euo pipefail

PACKAGES=(prometheus)
COMMANDS=(prometheus promtool)

missing=()
for command in "${COMMANDS[@]}"; do
    command -v "$command" >/dev/null || missing+=("$command")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
    fi
    echo "missing ${missing[*]}: run as root, or install with: apt-get install prometheus" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "missing ${missing[*]} and apt-get not found: install Prometheus 2.x so that prometheus and promtool are on PATH" >&2
    exit 1
fi

# The package's maintainer script would start a system Prometheus on port 9090, where the local
# stack runs the HBase Thrift gateway. Debian's policy-rc.d hook (exit 101) stops that; one is
# installed only for this run and only when the machine has none.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
echo "installing ${PACKAGES[*]} with apt-get"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
for command in "${COMMANDS[@]}"; do
    command -v "$command" >/dev/null || { echo "apt-get installed ${PACKAGES[*]} but $command is still missing" >&2; exit 1; }
done
