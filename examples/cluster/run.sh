#!/usr/bin/env bash
# Starts redis-server (127.0.0.1:6390, no persistence, its own directory)
# and three tollgate processes (127.0.0.1:8081-8083) sharing it; Ctrl-C
# stops all four. Try:
#   for p in 8081 8082 8083 8081 8082 8083 8081 8082 8083 8081 8082 8083; do
#     curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:$p/; done
#   -> 200 x 10, then 429: one limit for the three nodes.
#   redis-cli -p 6390 shutdown nosave   # then curl again: each node admits
#                                       # its share (10/min / 3 = 3/min) on its own;
#   redis-server --port 6390 &          # and within a second they share again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tollgate="${TOLLGATE:-$here/../../target/debug/tollgate}"
if ! command -v redis-server >/dev/null; then
    echo "redis-server is missing; install it with: apt-get install -y redis-server" >&2
    exit 1
fi
if [ ! -x "$tollgate" ]; then
    (cd "$here/../.." && cargo build --bin tollgate)
fi
dir="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM
redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/redis.log" &
pids+=($!)
for i in 1 2 3; do
    "$tollgate" run -c "$here/node$i.yaml" >"$dir/node$i.log" 2>&1 &
    pids+=($!)
done
echo "redis on 127.0.0.1:6390; tollgate on 127.0.0.1:8081, :8082, :8083 (logs in $dir); Ctrl-C stops them"
wait
