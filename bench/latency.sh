#!/usr/bin/env bash
# Latency at a fixed rate well under saturation: p50/p99 of plain tollgate,
# rate_limit on Redis `mode: exact` and `mode: approximate`, in the same run,
# with the Redis round trip measured during it. At saturation p99 is queueing
# on the proxy core and says little about the store; paced, exact's p99 minus
# plain's is what the store adds (issue 10's target: at most one Redis round
# trip + 0.2 ms).
#
# Layout (as policies.sh): core 0 = the proxies (one measured at a time);
# core 1 = wrk, the nginx backend, redis-server.
# Usage: bench/latency.sh [-r RATE] [-d SECONDS] [-c CONNS] [-b BINARY]
#   -r  requests a second (default 10000: about half of plain's throughput
#       on one core; set it from a policies.sh run)
#   -d  seconds per case (default 10), -c wrk connections (default 50)
#   PORT_BASE (env, default 18500): backend PORT_BASE and +1, redis +9,
#   proxies +11.. (away from policies.sh's ports)
# Output: ${RESULTS_DIR:-/tmp/bench-results}/latency-<timestamp>/{summary.txt,wrk/}
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
RATE=10000; DUR=10; CONNS=50; BIN=$ROOT/target/release/tollgate
while [ $# -gt 0 ]; do
  case "$1" in
    -r) RATE=$2; shift 2;; -d) DUR=$2; shift 2;; -c) CONNS=$2; shift 2;;
    -b) BIN=$2; shift 2;;
    -h|--help) sed -n '2,17p' "$0"; exit 0;;
    *) echo "unknown arg $1" >&2; exit 2;;
  esac
done
for b in nginx wrk redis-server taskset curl python3; do
  command -v $b >/dev/null || { echo "missing $b: apt-get install -y nginx wrk redis-server util-linux curl python3" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "no tollgate binary at $BIN: cargo build --release" >&2; exit 2; }

PB=${PORT_BASE:-18500}; BE=$PB; REDIS=$((PB + 9))
RUN=$(mktemp -d -t benchlat.XXXXXX)
RES=${RESULTS_DIR:-/tmp/bench-results}/latency-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES/wrk" "$RUN/www" "$RUN/redis"
cp "$HERE"/www/* "$RUN/www/" 2>/dev/null
ulimit -n 20000 2>/dev/null || true
. "$HERE/lib.sh"

sed -e "s#@RUN@#$RUN#g" -e "s#127.0.0.1:18080#127.0.0.1:$BE#" -e "s#127.0.0.1:18078#127.0.0.1:$((PB + 1))#" \
  "$HERE/conf/backend-nginx.conf" > "$RUN/backend-nginx.conf"
start backend 1 nginx -p "$RUN" -c "$RUN/backend-nginx.conf" -g 'daemon off;'
wait_http $BE || { echo "backend failed"; cat "$RUN/backend.log"; exit 1; }
start redis 1 redis-server --port $REDIS --bind 127.0.0.1 --save '' --appendonly no --dir "$RUN/redis"

CASES=(plain limit_redis_exact limit_redis_approx)
declare -A CFG=([plain]=bench/tollgate.yaml [limit_redis_exact]=bench/policies/limit_redis_exact.yaml
                [limit_redis_approx]=bench/policies/limit_redis_approx.yaml)
port=$((PB + 10))
for n in "${CASES[@]}"; do
  port=$((port + 1)); PORT[$n]=$port
  LISTEN_ADDR=127.0.0.1:$port BACKEND_ADDR=127.0.0.1:$BE REDIS_URL=redis://127.0.0.1:$REDIS \
    BENCH_DIR=$HERE/policies ADMIN_ADDR=127.0.0.1:$((port + 1000)) \
    start "$n" 0 "$BIN" run -c "$ROOT/${CFG[$n]}"
done
for n in "${CASES[@]}"; do
  wait_http "${PORT[$n]}" || { echo "$n did not start:"; tail -20 "$RUN/$n.log"; exit 1; }
done

# rtt SECONDS: p50 and p99 (ms) of PING round trips to redis-server, one at a
# time on one connection, for SECONDS (as a decision's call sees the store).
rtt() {
  python3 - "$REDIS" "$1" <<'PY'
import socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
times, end = [], time.monotonic() + secs
while time.monotonic() < end:
    t0 = time.perf_counter()
    s.sendall(b"PING\r\n")
    if not s.recv(64).startswith(b"+PONG"):
        sys.exit("redis: unexpected reply")
    times.append(time.perf_counter() - t0)
    time.sleep(0.002)
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
print(f"{pick(0.5):.3f} {pick(0.99):.3f} {len(times)}")
PY
}
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0}
                                else {sub(/s$/,"",v); print v*1000} }'; }
paced() {  # paced NAME SECONDS OUT
  RATE=$RATE CONNS=$CONNS taskset -c 1 wrk -t1 -c"$CONNS" -d"$2"s --latency -s "$HERE/policies/paced.lua" \
    "http://127.0.0.1:${PORT[$1]}/" > "$3" 2>&1
}

{ echo "date: $(date -Is)  host: $(uname -r)  cpus: $(nproc)  rate=$RATE/s dur=${DUR}s conns=$CONNS"
  echo "binary: $BIN ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null))"
  echo "versions: $(wrk -v 2>&1 | head -1 | awk '{print $1,$2}') | $(redis-server --version | awk '{print $1,$3}')"
} | tee "$RES/summary.txt"
echo "warm-up..."
for n in "${CASES[@]}"; do paced "$n" 2 /dev/null; done

printf '%-20s %9s %9s %9s %8s\n' case rps p50_ms p99_ms non2xx | tee -a "$RES/summary.txt"
declare -A P99
for n in "${CASES[@]}"; do
  out=$RES/wrk/$n.txt
  if [ "$n" = limit_redis_exact ]; then rtt "$DUR" > "$RUN/rtt" & RTT_PID=$!; fi
  paced "$n" "$DUR" "$out"
  [ "$n" = limit_redis_exact ] && wait "$RTT_PID"
  grep -q "requests in" "$out" || { echo "$n: wrk failed:"; cat "$out"; exit 1; }
  rps=$(awk '/Requests\/sec/{print $2}' "$out"); non2=$(awk '/Non-2xx/{print $NF}' "$out")
  p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$out")"); P99[$n]=$(to_ms "$(awk '$1=="99%"{print $2}' "$out")")
  printf '%-20s %9s %9s %9s %8s\n' "$n" "$rps" "$p50" "${P99[$n]}" "${non2:-0}" | tee -a "$RES/summary.txt"
done
read -r rtt50 rtt99 pings < "$RUN/rtt"
{ echo "redis round trip during the exact run (PING, $pings samples): p50 ${rtt50} ms, p99 ${rtt99} ms"
  awk -v e="${P99[limit_redis_exact]}" -v p="${P99[plain]}" -v r="$rtt99" 'BEGIN{
    d = e - p; b = r + 0.2
    printf "exact adds %.3f ms at p99 (target <= one round trip p99 + 0.2 ms = %.3f ms): %s\n", d, b, (d <= b) ? "met" : "missed" }'
} | tee -a "$RES/summary.txt"
echo "results: $RES"
