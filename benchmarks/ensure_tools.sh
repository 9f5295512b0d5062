#!/bin/sh
# Install the load generator (wrk), the CPU pinning tool (taskset), the instruction
# counter (valgrind, for benchmarks/instructions.sh), nginx (the static files' reference
# in make bench-files; run by the harness on its own config, not as a service) and
# redis-server (the rate limits' store in make bench-ratelimit; the harness starts its own on
# a free port, the package's service is not used) when missing.
# Debian/Ubuntu only; uses sudo when not run as root.
set -eu

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v taskset >/dev/null 2>&1 || missing="$missing util-linux"
command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
test -x /usr/sbin/nginx || missing="$missing nginx"
test -x /usr/bin/redis-server || missing="$missing redis-server"

if [ -n "$missing" ]; then
    echo "ensure_tools: installing$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $missing
fi
