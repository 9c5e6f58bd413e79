#!/usr/bin/env bash
# L4 benchmark: tollgate `protocol: tcp` beside haproxy `mode tcp` and nginx `stream`,
# on one machine, in one run, in the style of run.sh (2-core box).
#
# Layout:  core 0 = proxy under test (alone)     core 1 = wrk client + nginx backend
# Backend: nginx, 1 worker, 127.0.0.1:BASE: "/" = 100 B body, "/big" = 16 MiB file (sendfile).
# Proxies, one worker/thread each, defaults otherwise: nginx stream BASE+1, haproxy BASE+2,
#          tollgate BASE+3 (bench/l4-tollgate.yaml). BASE is 18380 unless -p says otherwise.
# Cases:   conn  wrk -c50, small GET with `Connection: close`: every request is a new TCP
#                connection through the proxy  -> proxy CPU µs per connection
#          bulk  wrk -c8, keep-alive GET /big  -> proxy CPU seconds per GB relayed (10^9 bytes,
#                wrk's "read" figure)
# Rounds are interleaved (the proxy that starts rotates every round); the summary shows
# medians over rounds. CPU time comes from /proc/<pid>/stat (utime+stime, whole tree).
#
# Usage: bench/l4.sh [options]
#   -r N       rounds (default 3)                -d S   seconds per wrk run (default 10)
#   -t LIST    proxies (default nginx,haproxy,tollgate)
#   -s LIST    cases (default conn,bulk)       -p BASE  first of the four ports (default 18380)
#   --no-build use target/release/tollgate as it is (default: cargo build --release first)
#   --big-buffers  nginx proxy_buffer_size 64k and haproxy tune.bufsize 64k (tollgate's
#              largest relay buffer) instead of their 16k defaults
#   NOISE_MAX (default 10): a run is noisy when processes other than ours used more than this
#   % of one core; RETRIES (default 1): noisy runs are repeated, the least noisy one is kept.
# Needs:   apt-get install -y nginx libnginx-mod-stream haproxy wrk
# Output:  ${RESULTS_DIR:-/tmp/bench-results}/l4-<timestamp>/{raw.csv,summary.txt,wrk/*.txt}
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CONF=$HERE/conf
ROUNDS=3; DUR=10; TARGETS="nginx,haproxy,tollgate"; CASES="conn,bulk"; BUILD=1; BASE=18380
NGINX_BUF=""; HAPROXY_BUF=""
NOISE_MAX=${NOISE_MAX:-10}; RETRIES=${RETRIES:-1}
PROXY_CORE=0; CLIENT_CORE=1
while [ $# -gt 0 ]; do
  case "$1" in
    -r) ROUNDS=$2; shift 2;; -d) DUR=$2; shift 2;;
    -t) TARGETS=$2; shift 2;; -s) CASES=$2; shift 2;; -p) BASE=$2; shift 2;;
    --no-build) BUILD=0; shift;;
    --big-buffers) NGINX_BUF="proxy_buffer_size 64k;"; HAPROXY_BUF="tune.bufsize 65536"; shift;;
    -h|--help) sed -n '2,28p' "$0"; exit 0;;
    *) echo "unknown arg $1" >&2; exit 2;;
  esac
done
for b in nginx haproxy wrk taskset curl python3 bc; do
  command -v $b >/dev/null || { echo "missing $b: apt-get install -y nginx libnginx-mod-stream haproxy wrk" >&2; exit 2; }
done
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || { echo "missing nginx stream module: apt-get install -y libnginx-mod-stream" >&2; exit 2; }
if [ $BUILD = 1 ]; then (cd "$ROOT" && cargo build --release) || exit 1; fi
TOLLGATE=$ROOT/target/release/tollgate
[ -x "$TOLLGATE" ] || { echo "no $TOLLGATE: build it or drop --no-build" >&2; exit 2; }

RUN=$(mktemp -d -t l4bench.XXXXXX)
RES=${RESULTS_DIR:-/tmp/bench-results}/l4-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES/wrk" "$RUN/www"
head -c $((16 << 20)) /dev/urandom > "$RUN/www/big.bin"
ulimit -n 20000 2>/dev/null || true

. "$HERE/lib.sh"

# ---------------------------------------------------------------- start everything
for f in l4-backend-nginx.conf l4-nginx.conf l4-haproxy.cfg; do
  sed -e "s#@RUN@#$RUN#g" -e "s#@BACKEND@#$BASE#g" -e "s#@NGINX@#$((BASE+1))#g" \
      -e "s#@HAPROXY@#$((BASE+2))#g" -e "s#@NGINX_BUF@#$NGINX_BUF#g" \
      -e "s#@HAPROXY_BUF@#$HAPROXY_BUF#g" "$CONF/$f" > "$RUN/$f"
done
for port in $BASE $((BASE+1)) $((BASE+2)) $((BASE+3)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "port $port is in use: pick other ports with -p" >&2; exit 2; }
done
start backend $CLIENT_CORE nginx -p "$RUN" -c "$RUN/l4-backend-nginx.conf" -g 'daemon off;'
wait_http $BASE || { echo "backend failed"; cat "$RUN/backend.log"; exit 1; }
IFS=, read -ra TLIST <<<"$TARGETS"
IFS=, read -ra CLIST <<<"$CASES"
for t in "${TLIST[@]}"; do
  case $t in
    nginx)    start nginx $PROXY_CORE nginx -p "$RUN" -c "$RUN/l4-nginx.conf" -g 'daemon off;'; PORT[$t]=$((BASE+1));;
    haproxy)  start haproxy $PROXY_CORE haproxy -db -f "$RUN/l4-haproxy.cfg"; PORT[$t]=$((BASE+2));;
    tollgate) LISTEN_ADDR=127.0.0.1:$((BASE+3)) BACKEND_ADDR=127.0.0.1:$BASE \
                start tollgate $PROXY_CORE "$TOLLGATE" run -c "$HERE/l4-tollgate.yaml"; PORT[$t]=$((BASE+3));;
    *) echo "unknown proxy $t" >&2; exit 2;;
  esac
done
for t in "${TLIST[@]}"; do
  wait_http "${PORT[$t]}" || { echo "$t not answering on ${PORT[$t]}"; cat "$RUN/$t.log"; exit 1; }
  n=$(curl -s "http://127.0.0.1:${PORT[$t]}/big" | wc -c)
  [ "$n" = $((16 << 20)) ] || { echo "$t: /big came back with $n bytes"; exit 1; }
done
for p in "${STARTED[@]}"; do MYPIDS="$MYPIDS $(tree_pids "$p" | tr '\n' ' ')"; done

{ echo "date: $(date -Is)  host: $(uname -r)  cpus: $(nproc)  rounds=$ROUNDS dur=${DUR}s"
  echo "buffers: nginx ${NGINX_BUF:-default (16k)} | haproxy ${HAPROXY_BUF:-default (16k)} | tollgate 16k growing to 64k"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //') | $(haproxy -v | head -1 | awk '{print $1,$2,$3}') | $(wrk -v 2>&1 | head -1 | awk '{print $1,$2}') | tollgate $(cd "$ROOT" && git rev-parse --short HEAD)"
} | tee "$RES/summary.txt"

# ---------------------------------------------------------------- one measurement
# measure ROUND CASE PROXY ATTEMPT -> CSV: round,case,proxy,attempt,units,per_unit,rps,proxy_cpu_s,noise_pct
measure() {
  local r=$1 c=$2 t=$3 a=$4 out=$RES/wrk/r$1-$2-$3-a$4.txt args
  case $c in
    conn) args=(-t1 -c50 -d"${DUR}s" -H "Connection: close" "http://127.0.0.1:${PORT[$t]}/");;
    bulk) args=(-t1 -c8 -d"${DUR}s" "http://127.0.0.1:${PORT[$t]}/big");;
  esac
  foreign_snap > "$RUN/f0"; local p0 t0 p1 t1 fd
  p0=$(cpu_ticks "${PID[$t]}"); t0=$(date +%s.%N)
  taskset -c $CLIENT_CORE wrk "${args[@]}" > "$out" 2>&1
  t1=$(date +%s.%N); p1=$(cpu_ticks "${PID[$t]}")
  foreign_snap > "$RUN/f1"
  fd=$(awk 'NR==FNR{a[$1]=$2; next} {d=$2-(($1 in a)?a[$1]:0); if (d>0) s+=d} END{print s+0}' "$RUN/f0" "$RUN/f1")
  awk -v r="$r" -v c="$c" -v t="$t" -v a="$a" -v pt=$((p1-p0)) -v fd="$fd" -v hz="$HZ" -v el="$(echo "$t1 - $t0" | bc)" '
    function bytes(v) { if (v ~ /GB$/) return v*1024^3; if (v ~ /MB$/) return v*1024^2; if (v ~ /KB$/) return v*1024; return v+0 }
    /requests in/ { req=$1; rd=$NF; sub(/read$/,"",rd); if (rd=="") rd=$(NF-1); rb=bytes($(NF-1)) }
    /Requests\/sec:/ { rps=$2 }
    /Socket errors/ { se=$0 }
    END { cpu=pt/hz; noise=100*fd/hz/(el>0?el:1)
      if (c=="conn") { units=req; per=(req>0)? cpu*1e6/req : 0 }
      else { units=rb/1e9; per=(units>0)? cpu/units : 0 }
      printf "%s,%s,%s,%d,%.3f,%.3f,%.0f,%.2f,%.1f\n", r,c,t,a,units,per,rps,cpu,noise }' "$out"
}

echo "round,case,proxy,attempt,chosen,units,per_unit,rps,proxy_cpu_s,noise_pct" > "$RES/raw.csv"
echo "warm-up (2s each)..."
for t in "${TLIST[@]}"; do
  taskset -c $CLIENT_CORE wrk -t1 -c50 -d2s -H "Connection: close" "http://127.0.0.1:${PORT[$t]}/" >/dev/null 2>&1
  taskset -c $CLIENT_CORE wrk -t1 -c8 -d2s "http://127.0.0.1:${PORT[$t]}/big" >/dev/null 2>&1
done
N=${#TLIST[@]}
for ((r=1; r<=ROUNDS; r++)); do
  for c in "${CLIST[@]}"; do
    for ((i=0; i<N; i++)); do
      t=${TLIST[$(( (i + r - 1) % N ))]}
      best=""; bestn=""; lines=()
      for ((a=0; a<=RETRIES; a++)); do
        line=$(measure "$r" "$c" "$t" "$a"); n=${line##*,}; lines+=("$line")
        echo "  $line"
        if [ -z "$bestn" ] || awk -v x="$n" -v y="$bestn" 'BEGIN{exit !(x < y)}'; then best=$line; bestn=$n; fi
        sleep 1
        awk -v n="$n" -v m="$NOISE_MAX" 'BEGIN{exit !(n <= m)}' && break
        echo "    noisy run (${n}% of a core used by others), retrying"; sleep 2
      done
      for l in "${lines[@]}"; do
        IFS=, read -ra F <<<"$l"; ch=0; [ "$l" = "$best" ] && ch=1
        echo "${F[0]},${F[1]},${F[2]},${F[3]},$ch,${F[4]},${F[5]},${F[6]},${F[7]},${F[8]}" >> "$RES/raw.csv"
      done
    done
  done
done

# ---------------------------------------------------------------- summary: medians of chosen runs
python3 - "$RES/raw.csv" "$TARGETS" <<'PY' | tee -a "$RES/summary.txt"
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["chosen"] == "1"]
proxies = sys.argv[2].split(",")
label = {"conn": "CPU µs per connection (Connection: close, 100 B)",
         "bulk": "CPU s per GB relayed (keep-alive, 16 MiB objects)"}
for case in ("conn", "bulk"):
    got = {p: [float(r["per_unit"]) for r in rows if r["case"] == case and r["proxy"] == p] for p in proxies}
    if not any(got.values()):
        continue
    print(f"\n{label[case]}, median of {max(len(v) for v in got.values())} rounds (lower is better)")
    base = statistics.median(got["nginx"]) if got.get("nginx") else None
    for p in proxies:
        v = got[p]
        if not v:
            continue
        m = statistics.median(v)
        rps = statistics.median(float(r["rps"]) for r in rows if r["case"] == case and r["proxy"] == p)
        noise = max(float(r["noise_pct"]) for r in rows if r["case"] == case and r["proxy"] == p)
        ratio = f"  {m / base:.2f} x nginx" if base else ""
        print(f"  {p:9s} {m:9.3f}   rounds {' '.join(f'{x:.3f}' for x in v)}   req/s {rps:.0f}   max noise {noise:.0f}%{ratio}")
PY
echo "results: $RES"
