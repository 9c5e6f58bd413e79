#!/usr/bin/env bash
# Edge benchmark (2-core box): cache hits and gzip, tollgate beside nginx (and haproxy's cache).
#
# Layout: core 0 = proxy under test (alone)    core 1 = wrk client + nginx origin (as in run.sh)
# Origin: nginx 1 worker on 127.0.0.1:18280: /cached = 100 B, Cache-Control: max-age=3600;
#         /text16k = 16384 B of compressible text/plain (not cacheable). stub_status on 18279.
# Scenarios:
#   cache  GET /cached, every request a hit after warm-up:
#          nginx proxy_cache :18281   haproxy cache :18283   tollgate cache :18284
#   gzip   GET /text16k with Accept-Encoding: gzip, level 6, min length 1 KiB, compressed per request:
#          nginx gzip :18282          tollgate compress :18285
# The figure is the proxy's CPU time per request (µs, from /proc, user+system of its process
# tree), in interleaved rounds; medians over rounds. Every run also records how many requests
# reached the origin (stub_status), so a "hit" run that was not all hits shows.
#
# Usage: bench/edge.sh [options]
#   -r N        rounds (default 3)              -d S   seconds per wrk run (default 10)
#   -c N        connections (default 50)        -s L   scenarios: cache,gzip (default both)
#   -t L        targets (default nginx,haproxy,tollgate; haproxy only runs the cache scenario)
#   --no-build  use target/release/tollgate as it is
#   NOISE_MAX (default 10): a run is "noisy" when processes other than ours used more than this %
#   of one core; RETRIES (default 1): noisy runs are repeated, the least noisy one is kept.
# Output: ${RESULTS_DIR:-/tmp/bench-results}/edge-<timestamp>/{raw.csv,summary.txt,wrk/*}
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CONF=$HERE/conf
ROUNDS=3; DUR=10; CONNS=50; SCENARIOS="cache,gzip"; TARGETS="nginx,haproxy,tollgate"; BUILD=1
RETRIES=${RETRIES:-1}; NOISE_MAX=${NOISE_MAX:-10}
PROXY_CORE=0; CLIENT_CORE=1; BACKEND_CORE=1
while [ $# -gt 0 ]; do
  case "$1" in
    -r) ROUNDS=$2; shift 2;; -d) DUR=$2; shift 2;; -c) CONNS=$2; shift 2;;
    -s) SCENARIOS=$2; shift 2;; -t) TARGETS=$2; shift 2;; --no-build) BUILD=0; shift;;
    -h|--help) sed -n '2,24p' "$0"; exit 0;;
    *) echo "unknown arg $1" >&2; exit 2;;
  esac
done
for b in nginx haproxy wrk taskset curl bc awk python3; do
  command -v $b >/dev/null || { echo "missing $b: apt-get install -y nginx haproxy wrk util-linux curl bc python3" >&2; exit 2; }
done
if [ $BUILD = 1 ]; then (cd "$ROOT" && cargo build --release) || exit 1; fi
TOLLGATE=$ROOT/target/release/tollgate
[ -x "$TOLLGATE" ] || { echo "no $TOLLGATE (build it, or drop --no-build)" >&2; exit 2; }

RUN=$(mktemp -d -t edgebench.XXXXXX)
RES=${RESULTS_DIR:-/tmp/bench-results}/edge-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES/wrk" "$RUN/www"
ulimit -n 20000 2>/dev/null || true
# 100 bytes exactly; 16 KiB of log-like text (compresses about 5:1, like JSON or HTML).
printf '%099d\n' 0 | tr 0 c > "$RUN/www/c100.txt"
awk 'BEGIN { for (i = 0; i < 400; i++) printf "2026-11-22T10:%02d:%02dZ INFO req=%06d GET /api/items/%d status=200 bytes=%d user=u%03d\n", i % 60, (i * 7) % 60, i * 37, i % 97, 1000 + (i * 131) % 9000, i % 41 }' \
  | head -c 16384 > "$RUN/www/text16k.txt"

. "$HERE/lib.sh"
origin_requests() { curl -s http://127.0.0.1:18279/status | awk 'NR==3{print $3}'; }

for f in edge-backend-nginx.conf edge-proxy-nginx.conf; do sed "s#@RUN@#$RUN#g" "$CONF/$f" > "$RUN/$f"; done
mkdir -p "$RUN/nginx-cache"
start backend $BACKEND_CORE nginx -p "$RUN" -c "$RUN/edge-backend-nginx.conf" -g 'daemon off;'
wait_http 18280 /cached || { echo "origin failed"; cat "$RUN/backend.log"; exit 1; }

IFS=, read -ra TLIST <<<"$TARGETS"
IFS=, read -ra SLIST <<<"$SCENARIOS"
for t in "${TLIST[@]}"; do
  case $t in
    nginx)    start nginx $PROXY_CORE nginx -p "$RUN" -c "$RUN/edge-proxy-nginx.conf" -g 'daemon off;'
              PORT[nginx:cache]=18281; PORT[nginx:gzip]=18282;;
    haproxy)  start haproxy $PROXY_CORE haproxy -db -f "$CONF/edge-haproxy.cfg"; PORT[haproxy:cache]=18283;;
    tollgate) CACHE_ADDR=127.0.0.1:18284 GZIP_ADDR=127.0.0.1:18285 BACKEND_ADDR=127.0.0.1:18280 \
                start tollgate $PROXY_CORE "$TOLLGATE" run -c "$HERE/edge.yaml"
              PORT[tollgate:cache]=18284; PORT[tollgate:gzip]=18285;;
    *) echo "unknown target $t" >&2; exit 2;;
  esac
done

path_of() { case $1 in cache) echo /cached;; gzip) echo /text16k;; esac; }
hdr_of() { case $1 in gzip) echo "Accept-Encoding: gzip";; *) echo "X-Bench: 1";; esac; }

# Check every pairing answers as the scenario needs before measuring.
{ echo "date: $(date -Is)  host: $(uname -r)  cpus: $(nproc)  rounds=$ROUNDS dur=${DUR}s conns=$CONNS"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //') | $(haproxy -v | head -1 | awk '{print $1,$2,$3}') | tollgate $(git -C "$ROOT" rev-parse --short HEAD)"; } | tee "$RES/summary.txt"
for sc in "${SLIST[@]}"; do
  for t in "${TLIST[@]}"; do
    p=${PORT[$t:$sc]:-}; [ -n "$p" ] || continue
    wait_http "$p" "$(path_of "$sc")" || { echo "$t not answering on $p"; cat "$RUN/$t.log"; exit 1; }
    curl -s -o /dev/null "http://127.0.0.1:$p$(path_of "$sc")"   # fills the caches
    head=$(curl -s -D - -o "$RUN/body" -H "$(hdr_of "$sc")" "http://127.0.0.1:$p$(path_of "$sc")")
    size=$(wc -c < "$RUN/body")
    case $sc in
      cache) echo "$head" | grep -qiE '^(x-cache-status: HIT|cache-status: tollgate; hit|age:)' \
               || [ "$t" = haproxy ] || { echo "$t: not a hit:"; echo "$head"; exit 1; }
             echo "check $sc $t: $size body bytes, $(echo "$head" | grep -iE '^(x-cache-status|cache-status|age):' | tr -d '\r' | paste -sd' ')" | tee -a "$RES/summary.txt";;
      gzip)  echo "$head" | grep -qi '^content-encoding: gzip' || { echo "$t: not gzip:"; echo "$head"; exit 1; }
             echo "check $sc $t: $size compressed bytes of 16384" | tee -a "$RES/summary.txt";;
    esac
  done
done

MYPIDS=""
for p in "${STARTED[@]}"; do MYPIDS="$MYPIDS $(tree_pids "$p" | tr '\n' ' ')"; done

measure() {  # measure ROUND SCENARIO TARGET ATTEMPT -> CSV line
  local r=$1 sc=$2 t=$3 a=$4 port=${PORT[$3:$2]} out c0 c1 o0 o1 t0 t1 fd
  out=$RES/wrk/r$r-$sc-$t-a$a.txt
  foreign_snap > "$RUN/f0"; c0=$(cpu_ticks "${PID[$t]}"); o0=$(origin_requests); t0=$(date +%s.%N)
  taskset -c $CLIENT_CORE wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -H "$(hdr_of "$sc")" "http://127.0.0.1:$port$(path_of "$sc")" > "$out" 2>&1
  t1=$(date +%s.%N); c1=$(cpu_ticks "${PID[$t]}"); o1=$(origin_requests); foreign_snap > "$RUN/f1"
  fd=$(awk 'NR==FNR{a[$1]=$2; next} {d=$2-(($1 in a)?a[$1]:0); if (d>0) s+=d} END{print s+0}' "$RUN/f0" "$RUN/f1")
  awk -v r="$r" -v sc="$sc" -v t="$t" -v a="$a" -v hz="$HZ" -v pt=$((c1-c0)) -v el="$(echo "$t1 - $t0" | bc)" \
      -v fd="$fd" -v orq=$((o1-o0-1)) '
    function ms(v) { if (v ~ /us$/) { sub(/us$/,"",v); return v/1000 } if (v ~ /ms$/) { sub(/ms$/,"",v); return v+0 }
                     if (v ~ /m$/) { sub(/m$/,"",v); return v*60000 } sub(/s$/,"",v); return v*1000 }
    /Requests\/sec:/ {rps=$2} /requests in/ {req=$1} /Non-2xx/ {non2=$NF}
    $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
    END { if (req<1) req=1; noise=100*fd/hz/el
      printf "%s,%s,%s,%d,%.0f,%.3f,%.3f,%d,%d,%.2f,%.1f,%.3f\n", r,sc,t,a,rps,p50,p99,req,non2+0,pt/hz*1e6/req,noise,orq/req }' "$out"
}

echo "warm-up (3 s each)..."
for sc in "${SLIST[@]}"; do for t in "${TLIST[@]}"; do
  p=${PORT[$t:$sc]:-}; [ -n "$p" ] || continue
  taskset -c $CLIENT_CORE wrk -t1 -c"$CONNS" -d3s -H "$(hdr_of "$sc")" "http://127.0.0.1:$p$(path_of "$sc")" >/dev/null 2>&1
done; done

echo "round,scenario,target,attempt,rps,p50_ms,p99_ms,requests,non2xx,proxy_us_req,noise,origin_per_req,chosen" > "$RES/raw.csv"
for ((r=1; r<=ROUNDS; r++)); do
  for sc in "${SLIST[@]}"; do
    ACT=(); for t in "${TLIST[@]}"; do [ -n "${PORT[$t:$sc]:-}" ] && ACT+=("$t"); done
    N=${#ACT[@]}
    for ((i=0; i<N; i++)); do
      t=${ACT[$(( (i + r - 1) % N ))]}     # rotate who goes first each round
      best=""; bestn=""; lines=()
      for ((a=0; a<=RETRIES; a++)); do
        line=$(measure "$r" "$sc" "$t" "$a"); n=$(echo "$line" | awk -F, '{print $11}')
        lines+=("$line"); echo "  $line"
        if [ -z "$bestn" ] || awk -v x="$n" -v y="$bestn" 'BEGIN{exit !(x < y)}'; then best=$line; bestn=$n; fi
        sleep 1
        awk -v n="$n" -v m="$NOISE_MAX" 'BEGIN{exit !(n <= m)}' && break
        echo "    noisy run (other processes used ${n}% of a core), retrying"
      done
      for l in "${lines[@]}"; do ch=0; [ "$l" = "$best" ] && ch=1; echo "$l,$ch" >> "$RES/raw.csv"; done
    done
  done
done

python3 - "$RES" <<'PY' | tee -a "$RES/summary.txt"
import csv, statistics as S, sys, collections
res = sys.argv[1]
rows = [r for r in csv.DictReader(open(f"{res}/raw.csv")) if r["chosen"] == "1"]
by = collections.defaultdict(list)
for r in rows:
    by[(r["scenario"], r["target"])].append(r)
print("\nproxy CPU µs per request (median over rounds; per-round values), rps, origin requests per request, noise")
for sc in dict.fromkeys(r["scenario"] for r in rows):
    ng = {r["round"]: float(r["proxy_us_req"]) for r in rows if r["scenario"] == sc and r["target"] == "nginx"}
    for t in dict.fromkeys(r["target"] for r in rows if r["scenario"] == sc):
        rs = by[(sc, t)]
        us = [float(r["proxy_us_req"]) for r in rs]
        ratios = [float(r["proxy_us_req"]) / ng[r["round"]] for r in rs if r["round"] in ng and t != "nginx"]
        ratio = f"  {S.median(ratios):.2f} x nginx (same-round median)" if ratios else ""
        print(f"  {sc:5} {t:8} {S.median(us):6.2f} µs  [{', '.join(f'{u:.2f}' for u in us)}]"
              f"  rps {S.median(float(r['rps']) for r in rs):8.0f}"
              f"  origin/req {S.median(float(r['origin_per_req']) for r in rs):.3f}"
              f"  noise {S.median(float(r['noise']) for r in rs):5.1f}%{ratio}")
PY
echo "results: $RES"
