#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a measure that does not drift with the
# machine's load, for comparing two builds of the engine (user space only; the kernel's
# share of a request is not counted).
#
#   bash benchmarks/instructions.sh [PATH ...]      # default: /plaintext /sync /async POST:/users
#
# A path written POST:/users is loaded with benchmarks/post_user.lua (a Pydantic body).
#
# The app is benchmarks/apps/ignyx_app.py under valgrind. Each path gets 3 s of load to
# warm up (sync routes are promoted to run inline), then counters are zeroed, wrk runs
# for 5 s, and the instructions counted are divided by the requests wrk completed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
PORT=${PORT:-8079}
OUT=$(mktemp -d)
trap 'kill "$VG" 2>/dev/null || true; rm -rf "$OUT"' EXIT
[ $# -gt 0 ] || set -- /plaintext /sync /async POST:/users

IGNYX_ACCESS_LOG=0 valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" \
    "$PYTHON" benchmarks/apps/ignyx_app.py "$PORT" >"$OUT/server.log" 2>&1 &
VG=$!
for _ in $(seq 120); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && break
    sleep 1
done
printf '%-12s %10s %14s\n' path requests instructions/request
for path in "$@"; do
    script=()
    if [[ $path == POST:* ]]; then
        script=(-s benchmarks/post_user.lua)
    fi
    url="http://127.0.0.1:$PORT${path#POST:}"
    wrk -t1 -c64 -d3s "${script[@]}" "$url" >/dev/null
    callgrind_control -z "$VG" >/dev/null 2>&1
    requests=$(wrk -t1 -c64 -d5s "${script[@]}" "$url" | awk '/requests in/ {print $1}')
    callgrind_control -d "$VG" >/dev/null 2>&1
    sleep 1
    dump=$(ls -t "$OUT"/cg.*.* | head -1)
    total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    printf '%-12s %10d %14d\n' "$path" "$requests" $((total / requests))
    rm -f "$dump"
done
