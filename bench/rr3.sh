#!/usr/bin/env bash
# L7 round robin over three backends: nginx (upstream with 3 servers),
# haproxy (balance roundrobin, 3 servers) and tollgate (round_robin, 3
# targets), all in front of one nginx answering on three ports. Same
# harness, pinning and rounds as bench/tollgate.sh; keep-alive scenarios.
# e.g. `bench/rr3.sh -r 3 -d 10`. Needs: nginx haproxy wrk nghttp2-client.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in nginx haproxy wrk h2load; do
  command -v "$b" >/dev/null || { echo "missing $b: apt-get install -y nginx haproxy wrk nghttp2-client" >&2; exit 2; }
done
[ "${1:-}" = "--no-build" ] && shift || cargo build --release
BENCH_CONF="$PWD/bench/conf-rr3" exec bench/run.sh -x "$PWD/target/release/tollgate run -c $PWD/bench/tollgate-rr3.yaml" \
  -p 18099 -n tollgate -s small,16k --no-h2 --no-mem "$@"
