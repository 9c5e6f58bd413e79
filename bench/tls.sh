#!/usr/bin/env bash
# TLS termination benchmark: nginx, haproxy and tollgate terminating HTTPS in
# front of the same nginx backend (100 B answers), the same ECDSA P-256
# certificate for all, one worker each, in interleaved rounds.
#
# Layout (as run.sh): core 0 = the proxies (only one is loaded at a time),
#                     core 1 = wrk + the nginx backend (ports 28xxx, apart from run.sh's).
# Cases:  ka     HTTPS keep-alive, small requests  (wrk -c50 https://...)
#         close  a full handshake per request      (wrk -c50 -H 'Connection: close';
#                wrk makes a new TLS session per connection: no resumption)
# Figure: proxy CPU time per request (µs, from /proc, the whole process tree),
#         which on a 2-core box shared with other work is steadier than rps.
#         In `close`, one request = one TCP connection + one full TLS 1.3
#         handshake (X25519, ECDSA P-256) + one proxied request.
#
# Usage: bench/tls.sh [-r ROUNDS] [-d SECONDS] [-c CONNS] [-s ka,close] [-t nginx,haproxy,tollgate] [--no-build]
#   builds tollgate (release) unless --no-build; TOLLGATE_BIN overrides the binary.
#   NOISE_MAX (default 10): a run is repeated (up to RETRIES, default 1) when
#   CPU used on core 0 by anything but the proxy exceeds this % of the core.
# Needs: apt-get install -y nginx haproxy wrk openssl
# Output: ${RESULTS_DIR:-/tmp/bench-results}/tls-<timestamp>/{raw.csv,summary.txt,wrk/*}
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROUNDS=3; DUR=10; CONNS=50; SCENARIOS="ka,close"; TARGETS="nginx,haproxy,tollgate"; BUILD=1
RETRIES=${RETRIES:-1}; NOISE_MAX=${NOISE_MAX:-10}
PROXY_CORE=0; CLIENT_CORE=1
while [ $# -gt 0 ]; do
  case "$1" in
    -r) ROUNDS=$2; shift 2;; -d) DUR=$2; shift 2;; -c) CONNS=$2; shift 2;;
    -s) SCENARIOS=$2; shift 2;; -t) TARGETS=$2; shift 2;; --no-build) BUILD=0; shift;;
    -h|--help) sed -n '2,24p' "$0"; exit 0;;
    *) echo "unknown arg $1" >&2; exit 2;;
  esac
done
for b in nginx haproxy wrk openssl taskset curl python3; do
  command -v $b >/dev/null || { echo "missing $b: apt-get install -y nginx haproxy wrk openssl util-linux curl python3" >&2; exit 2; }
done
if [ -z "${TOLLGATE_BIN:-}" ]; then
  TOLLGATE_BIN=$ROOT/target/release/tollgate
  if [ $BUILD = 1 ]; then (cd "$ROOT" && cargo build --release --quiet) || exit 1; fi
fi

RUN=$(mktemp -d -t benchtls.XXXXXX)
RES=${RESULTS_DIR:-/tmp/bench-results}/tls-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES/wrk" "$RUN/www"
head -c 16384 /dev/urandom > "$RUN/www/16k.bin"
ulimit -n 20000 2>/dev/null || true

. "$HERE/lib.sh"
core0() { awk '/^cpu0 /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }   # total idle

# ---------------------------------------------------------------- one certificate for all
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=bench.test" -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" \
  -keyout "$RUN/key.pem" -out "$RUN/cert.pem" 2>/dev/null || { echo "openssl failed"; exit 1; }
cat "$RUN/cert.pem" "$RUN/key.pem" > "$RUN/haproxy.pem"

# ---------------------------------------------------------------- backend (as run.sh)
# Ports of their own (backend 28080, proxies 28443-28445), so this can run
# while run.sh's processes are up.
sed -e "s#@RUN@#$RUN#g" -e 's/1807\([89]\)/2807\1/g; s/18080/28080/g' "$HERE/conf/backend-nginx.conf" > "$RUN/backend-nginx.conf"
start backend $CLIENT_CORE nginx -p "$RUN" -c "$RUN/backend-nginx.conf" -g 'daemon off;'
wait_url http://127.0.0.1:28080/ || { echo "backend failed"; cat "$RUN/backend.log"; exit 1; }

cat > "$RUN/nginx-tls.conf" <<EOF
worker_processes 1;
user root;
pid $RUN/nginx-tls.pid;
error_log $RUN/nginx-tls-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_body_temp_path $RUN/t_body; proxy_temp_path $RUN/t_proxy; fastcgi_temp_path $RUN/t_fcgi;
    uwsgi_temp_path $RUN/t_uwsgi; scgi_temp_path $RUN/t_scgi;
    upstream be { server 127.0.0.1:28080; keepalive 1024; keepalive_requests 10000000; keepalive_timeout 120s; }
    server {
        listen 127.0.0.1:28443 ssl http2 backlog=4096;
        ssl_certificate $RUN/cert.pem;
        ssl_certificate_key $RUN/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
cat > "$RUN/haproxy-tls.cfg" <<EOF
global
    nbthread 1
    maxconn 9000
    log stderr format short local0 err
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:28444 ssl crt $RUN/haproxy.pem alpn h2,http/1.1 backlog 4096
    default_backend be
backend be
    server s1 127.0.0.1:28080 pool-max-conn 1024
EOF
cat > "$RUN/tollgate-tls.yaml" <<EOF
server: {workers: 1}
access_log: {output: off}
listeners:
  - name: bench
    address: 127.0.0.1:28445
    protocol: https
    tls:
      certificates: [{cert: $RUN/cert.pem, key: $RUN/key.pem}]
      reload_interval: 0s
    limits: {max_connections: 20000, keepalive_timeout: 120s}
upstreams:
  - name: backend
    targets: [{address: "127.0.0.1:28080"}]
    pool: {max_idle: 1024, idle_timeout: 120s}
routes:
  - {name: all, upstream: backend, forwarding: {x_forwarded: off, via: false}}
EOF

IFS=, read -ra TLIST <<<"$TARGETS"
IFS=, read -ra SLIST <<<"$SCENARIOS"
for t in "${TLIST[@]}"; do
  case $t in
    nginx)    start nginx $PROXY_CORE nginx -p "$RUN" -c "$RUN/nginx-tls.conf" -g 'daemon off;'; PORT[$t]=28443;;
    haproxy)  start haproxy $PROXY_CORE haproxy -db -f "$RUN/haproxy-tls.cfg"; PORT[$t]=28444;;
    tollgate) start tollgate $PROXY_CORE "$TOLLGATE_BIN" run -c "$RUN/tollgate-tls.yaml"; PORT[$t]=28445;;
    *) echo "unknown target $t" >&2; exit 2;;
  esac
done
for t in "${TLIST[@]}"; do
  wait_url "https://127.0.0.1:${PORT[$t]}/" || { echo "$t not answering"; cat "$RUN/$t.log"; exit 1; }
  n=$(curl -sk "https://127.0.0.1:${PORT[$t]}/" | wc -c)
  [ "$n" = 100 ] || { echo "$t: body of $n bytes, expected 100"; exit 1; }
done

{ echo "date: $(date -Is)  host: $(uname -r)  cpus: $(nproc)  rounds=$ROUNDS dur=${DUR}s conns=$CONNS"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //') | $(haproxy -v | head -1 | awk '{print $1,$2,$3}') | $(openssl version) | $(wrk -v 2>&1 | head -1 | awk '{print $1,$2}')"
  echo "tollgate: $TOLLGATE_BIN ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null))"
  echo "cert: ECDSA P-256, TLS 1.3 negotiated: $(echo | openssl s_client -connect 127.0.0.1:${PORT[${TLIST[0]}]} 2>/dev/null | awk '/Protocol|Cipher is/' | tr -s ' ' | head -2 | tr '\n' ' ')"; } | tee "$RES/summary.txt"

# measure ROUND SCENARIO TARGET ATTEMPT -> CSV line
measure() {
  local r=$1 sc=$2 t=$3 a=$4 hdr=() out c0 c1 s0 s1
  [ "$sc" = close ] && hdr=(-H "Connection: close")
  out=$RES/wrk/r$r-$sc-$t-a$a.txt
  read -r s0 i0 < <(core0); c0=$(cpu_ticks "${PID[$t]}")
  taskset -c $CLIENT_CORE wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "${hdr[@]}" "https://127.0.0.1:${PORT[$t]}/" > "$out" 2>&1
  c1=$(cpu_ticks "${PID[$t]}"); read -r s1 i1 < <(core0)
  awk -v r="$r" -v sc="$sc" -v t="$t" -v a="$a" -v hz="$HZ" -v pt=$((c1-c0)) -v tot=$((s1-s0)) -v idle=$((i1-i0)) '
    function ms(v) { if (v ~ /us$/) { sub(/us$/,"",v); return v/1000 } if (v ~ /ms$/) { sub(/ms$/,"",v); return v+0 } sub(/s$/,"",v); return v*1000 }
    /Requests\/sec:/ {rps=$2} /requests in/ {req=$1} /Non-2xx/ {non2=$NF}
    /Socket errors/ {gsub(/,/,""); se=$4+$6+$8+$10}
    $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
    END { if (req<1) req=1; if (tot<1) tot=1
      busy=100*(tot-idle)/tot; proxy=100*pt/tot; noise=busy-proxy; if (noise<0) noise=0
      printf "%s,%s,%s,%d,%.0f,%.3f,%.3f,%d,%d,%d,%.2f,%.0f,%.1f\n", r,sc,t,a,rps,p50,p99,req,non2+0,se+0, pt/hz*1e6/req, proxy, noise }' "$out"
}

echo "round,scenario,target,attempt,rps,p50_ms,p99_ms,requests,non2xx,sockerr,proxy_us_req,proxy_core0_pct,noise_core0_pct,chosen" > "$RES/raw.csv"
echo "warm-up (3s each)..."
for t in "${TLIST[@]}"; do
  taskset -c $CLIENT_CORE wrk -t1 -c"$CONNS" -d3s "https://127.0.0.1:${PORT[$t]}/" >/dev/null 2>&1
  taskset -c $CLIENT_CORE wrk -t1 -c"$CONNS" -d2s -H "Connection: close" "https://127.0.0.1:${PORT[$t]}/" >/dev/null 2>&1
done
N=${#TLIST[@]}
for ((r=1; r<=ROUNDS; r++)); do
  for sc in "${SLIST[@]}"; do
    for ((i=0; i<N; i++)); do
      t=${TLIST[$(( (i + r - 1) % N ))]}     # rotate who goes first
      best=""; bestn=""; lines=()
      for ((a=0; a<=RETRIES; a++)); do
        line=$(measure "$r" "$sc" "$t" "$a"); n=${line##*,}; lines+=("$line"); echo "  $line"
        if [ -z "$bestn" ] || awk -v x="$n" -v y="$bestn" 'BEGIN{exit !(x < y)}'; then best=$line; bestn=$n; fi
        sleep 1
        awk -v n="$n" -v m="$NOISE_MAX" 'BEGIN{exit !(n <= m)}' && break
        echo "    noisy (${n}% of core 0 used by others), retrying"; sleep 2
      done
      for l in "${lines[@]}"; do ch=0; [ "$l" = "$best" ] && ch=1; echo "$l,$ch" >> "$RES/raw.csv"; done
    done
  done
done

python3 - "$RES/raw.csv" <<'EOF' | tee -a "$RES/summary.txt"
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["chosen"] == "1"]
scen = {"ka": "HTTPS keep-alive, 100 B", "close": "full handshake per request (Connection: close)"}
targets = list(dict.fromkeys(r["target"] for r in rows))
print()
for sc in dict.fromkeys(r["scenario"] for r in rows):
    print(f"{scen.get(sc, sc)}: proxy CPU µs per request, median of rounds (per-round values)")
    by = {t: [r for r in rows if r["scenario"] == sc and r["target"] == t] for t in targets}
    for t in targets:
        v = [float(r["proxy_us_req"]) for r in by[t]]
        if not v:
            continue
        rps = statistics.median(float(r["rps"]) for r in by[t])
        p99 = statistics.median(float(r["p99_ms"]) for r in by[t])
        noise = max(float(r["noise_core0_pct"]) for r in by[t])
        errs = sum(int(r["non2xx"]) + int(r["sockerr"]) for r in by[t])
        print(f"  {t:9} {statistics.median(v):8.2f}   ({', '.join(f'{x:.2f}' for x in v)})  rps {rps:.0f}  p99 {p99:.2f} ms  max noise {noise:.0f}%  errors {errs}")
    if "nginx" in by and by["nginx"]:
        for t in targets:
            if t == "nginx" or not by[t]:
                continue
            ratios = []
            for rn in by[t]:
                ref = [x for x in by["nginx"] if x["round"] == rn["round"]]
                if ref:
                    ratios.append(float(rn["proxy_us_req"]) / float(ref[0]["proxy_us_req"]))
            if ratios:
                print(f"  {t} ÷ nginx, same round: median {statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)})")
    print()
EOF
echo "results: $RES"
