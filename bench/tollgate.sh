#!/usr/bin/env bash
# Builds tollgate in release mode and runs it through run.sh beside nginx and
# haproxy (same pinning, interleaved rounds). Extra arguments go to run.sh,
# e.g. `bench/tollgate.sh -r 5 -d 10`. Needs: nginx haproxy wrk nghttp2-client.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in nginx haproxy wrk h2load; do
  command -v "$b" >/dev/null || { echo "missing $b: apt-get install -y nginx haproxy wrk nghttp2-client" >&2; exit 2; }
done
cargo build --release
exec bench/run.sh -x "$PWD/target/release/tollgate run -c $PWD/bench/tollgate.yaml" -p 18099 -n tollgate -2 "$@"
