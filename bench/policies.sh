#!/usr/bin/env bash
# What each gateway policy costs: proxy CPU per request of tollgate with one
# policy on, as a ratio to tollgate without it measured in the same round,
# beside the nginx / haproxy feature it replaces (nginx limit_req, haproxy
# jwt_verify) in the same run.
#
# Layout (as run.sh): core 0 = the proxy being measured (alone); core 1 = wrk,
# the nginx backend, redis-server and the OTLP sink.
# Cases: bench/policies/cases.txt, one per line:
#   name | base | server | path | wrk options
# server is `tollgate CONFIG`, `nginx CONF` or `haproxy CFG` (nginx and haproxy
# files are templates: @RUN@, @PORT@, @DIR@ replaced). tollgate gets
# LISTEN_ADDR, BACKEND_ADDR, REDIS_URL, OTLP_ADDR, BENCH_DIR in its environment.
# base names the case the ratio is taken to ("-": none).
#
# Usage: bench/policies.sh [-r ROUNDS] [-d SECONDS] [-c CONNS] [-k CASES] [-b BINARY]
#   -k  comma list of case names or name prefixes (default: every case)
#   -b  tollgate binary (default target/release/tollgate; build it first:
#       cargo build --release)
# Needs: nginx haproxy wrk redis-server python3 (python3-cryptography for the
# tokens; made once by bench/policies/make_tokens.py).
# Output: ${RESULTS_DIR:-/tmp/bench-results}/policies-<timestamp>/{raw.csv,summary.txt}
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"   # wrk scripts open their files relative to the repository
DIR=$HERE/policies
ROUNDS=3; DUR=8; CONNS=50; ONLY=""; BIN=$ROOT/target/release/tollgate
NOISE_MAX=${NOISE_MAX:-10}
while [ $# -gt 0 ]; do
  case "$1" in
    -r) ROUNDS=$2; shift 2;; -d) DUR=$2; shift 2;; -c) CONNS=$2; shift 2;;
    -k) ONLY=$2; shift 2;; -b) BIN=$2; shift 2;;
    -h|--help) sed -n '2,22p' "$0"; exit 0;;
    *) echo "unknown arg $1" >&2; exit 2;;
  esac
done
for b in nginx haproxy wrk redis-server taskset curl python3; do
  command -v $b >/dev/null || { echo "missing $b: apt-get install -y nginx haproxy wrk redis-server util-linux curl python3" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "no tollgate binary at $BIN: cargo build --release" >&2; exit 2; }
python3 "$DIR/make_tokens.py" "$DIR/tokens" || exit 2

RUN=$(mktemp -d -t benchpol.XXXXXX)
RES=${RESULTS_DIR:-/tmp/bench-results}/policies-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RES/wrk" "$RUN/www"
head -c 16384 /dev/urandom > "$RUN/www/16k.bin"
cp "$HERE"/www/*.json "$HERE"/www/*.xml "$RUN/www/"
ulimit -n 20000 2>/dev/null || true
. "$HERE/lib.sh"

# ------------------------------------------------------------------ cases
NAMES=(); declare -A BASE SERVER CPATH WRKOPT
# trim TEXT: without surrounding blanks (xargs would also eat the quotes)
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }
while IFS='|' read -r name base server path opts; do
  name=$(trim "$name"); [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  if [ -n "$ONLY" ]; then
    keep=0; IFS=, read -ra want <<<"$ONLY"
    for w in "${want[@]}"; do [[ $name == "$w"* ]] && keep=1; done
    # a case's base is always measured with it
    [ $keep = 0 ] && continue
  fi
  NAMES+=("$name"); BASE[$name]=$(trim "$base"); SERVER[$name]=$(trim "$server")
  CPATH[$name]=$(trim "$path"); WRKOPT[$name]=$(trim "$opts")
done < "$DIR/cases.txt"
# add missing bases
for n in "${NAMES[@]}"; do
  b=${BASE[$n]}
  if [ "$b" != "-" ] && [ -z "${SERVER[$b]:-}" ]; then
    while IFS='|' read -r name base server path opts; do
      [ "$(trim "$name")" = "$b" ] || continue
      NAMES=("$b" "${NAMES[@]}"); BASE[$b]=$(trim "$base"); SERVER[$b]=$(trim "$server")
      CPATH[$b]=$(trim "$path"); WRKOPT[$b]=$(trim "$opts")
    done < "$DIR/cases.txt"
  fi
done
[ ${#NAMES[@]} -gt 0 ] || { echo "no case matches $ONLY" >&2; exit 2; }

# ------------------------------------------------------------------ servers
sed "s#@RUN@#$RUN#g" "$HERE/conf/backend-nginx.conf" > "$RUN/backend-nginx.conf"
start backend 1 nginx -p "$RUN" -c "$RUN/backend-nginx.conf" -g 'daemon off;'
wait_http 18080 || { echo "backend failed"; cat "$RUN/backend.log"; exit 1; }
mkdir -p "$RUN/redis"
start redis 1 redis-server --port 18379 --bind 127.0.0.1 --save '' --appendonly no --dir "$RUN/redis"
start otlp 1 python3 "$HERE/otlp_sink.py" 18318

port=18300
for n in "${NAMES[@]}"; do
  port=$((port + 1)); PORT[$n]=$port
  read -r kind file <<<"${SERVER[$n]}"
  case $kind in
    tollgate)
      LISTEN_ADDR=127.0.0.1:$port BACKEND_ADDR=127.0.0.1:18080 REDIS_URL=redis://127.0.0.1:18379 \
        OTLP_ADDR=127.0.0.1:18318 BENCH_DIR=$DIR ADMIN_ADDR=127.0.0.1:$((port + 1000)) \
        start "$n" 0 "$BIN" run -c "$ROOT/$file";;
    nginx)
      sed -e "s#@RUN@#$RUN#g" -e "s#@PORT@#$port#g" -e "s#@DIR@#$DIR#g" "$ROOT/$file" > "$RUN/$n.conf"
      mkdir -p "$RUN/$n"; start "$n" 0 nginx -p "$RUN/$n" -c "$RUN/$n.conf" -g 'daemon off;';;
    haproxy)
      sed -e "s#@RUN@#$RUN#g" -e "s#@PORT@#$port#g" -e "s#@DIR@#$DIR#g" "$ROOT/$file" > "$RUN/$n.cfg"
      start "$n" 0 haproxy -db -f "$RUN/$n.cfg";;
    *) echo "$n: unknown server kind $kind" >&2; exit 2;;
  esac
done
sleep 1
for n in "${NAMES[@]}"; do
  kill -0 "${PID[$n]}" 2>/dev/null || { echo "$n exited:"; cat "$RUN/$n.log"; exit 1; }
done
for p in "${STARTED[@]}"; do MYPIDS="$MYPIDS $(tree_pids "$p" | tr '\n' ' ')"; done

# wrk_for NAME OUT SECONDS: one wrk run against a case, its options expanded here
wrk_for() {
  local n=$1 out=$2 secs=$3
  local opts=${WRKOPT[$n]//@DIR@/$DIR}
  eval "TOKENS=\$DIR/tokens/rs256-many.txt taskset -c 1 wrk -t1 -c$CONNS -d${secs}s --latency $opts \"http://127.0.0.1:${PORT[$n]}${CPATH[$n]}\"" > "$out" 2>&1
}

echo "checking every case answers 2xx..."
for n in "${NAMES[@]}"; do
  wrk_for "$n" "$RUN/check.txt" 1
  if grep -q "Non-2xx" "$RUN/check.txt" || ! grep -q "requests in" "$RUN/check.txt"; then
    echo "$n: not all answers were 2xx; its log:"; tail -20 "$RUN/$n.log"; cat "$RUN/check.txt"; exit 1
  fi
done

{ echo "date: $(date -Is)  host: $(uname -r)  cpus: $(nproc)  rounds=$ROUNDS dur=${DUR}s conns=$CONNS"
  echo "binary: $BIN ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null))"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //') | $(haproxy -v | head -1 | awk '{print $1,$2,$3}') | $(redis-server --version | awk '{print $1,$3}')"
} | tee "$RES/summary.txt"

# ------------------------------------------------------------------ rounds
echo "round,case,base,us_req,rps,p50_ms,p99_ms,requests,non2xx,noise" > "$RES/raw.csv"
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0}
                                else {sub(/s$/,"",v); print v*1000} }'; }
measure() {  # measure ROUND NAME -> one CSV line
  local r=$1 n=$2 out=$RES/wrk/r$1-$2.txt c0 c1 fd req
  foreign_snap > "$RUN/f0"; c0=$(cpu_ticks "${PID[$n]}"); t0=$(date +%s.%N)
  wrk_for "$n" "$out" "$DUR"
  t1=$(date +%s.%N); c1=$(cpu_ticks "${PID[$n]}"); foreign_snap > "$RUN/f1"
  fd=$(awk 'NR==FNR{a[$1]=$2; next} {d=$2-(($1 in a)?a[$1]:0); if (d>0) s+=d} END{print s+0}' "$RUN/f0" "$RUN/f1")
  req=$(awk '/requests in/{print $1}' "$out"); req=${req:-1}
  local rps p50 p99 non2
  rps=$(awk '/Requests\/sec/{print $2}' "$out"); non2=$(awk '/Non-2xx/{print $NF}' "$out")
  p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$out")"); p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$out")")
  local us noise
  us=$(echo "scale=3; ($c1-$c0)*1000000/$HZ/$req" | bc)
  noise=$(echo "scale=1; 100*$fd/$HZ/($t1-$t0)" | bc)
  echo "$r,$n,${BASE[$n]},$us,$rps,$p50,$p99,$req,${non2:-0},$noise"
}
echo "warm-up..."
for n in "${NAMES[@]}"; do wrk_for "$n" /dev/null 2; done
N=${#NAMES[@]}
for ((r=1; r<=ROUNDS; r++)); do
  for ((i=0; i<N; i++)); do
    n=${NAMES[$(( (i + r - 1) % N ))]}
    for a in 0 1 2; do
      line=$(measure "$r" "$n")
      noise=${line##*,}
      awk -v x="$noise" -v m="$NOISE_MAX" 'BEGIN{exit !(x <= m)}' && break
      echo "  noisy ($noise % of a core used by others), again: $line"; sleep 2
    done
    echo "  $line"; echo "$line" >> "$RES/raw.csv"
  done
done
python3 "$HERE/policies_summary.py" "$RES/raw.csv" | tee -a "$RES/summary.txt"
echo "results: $RES"
