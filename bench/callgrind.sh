#!/usr/bin/env bash
# bench/callgrind.sh BIN CONFIG NAME SECS_OR_N [h1|h2] [PATH]
# Callgrind instruction counts per request of a tollgate binary behind a real nginx backend.
# Env: PB=port base (default 18200; uses PB..PB+4),
# EXTRA_ENV="REDIS_URL=redis://127.0.0.1:P OTLP_ADDR=…" (more environment for tollgate),
# WRKH='Header: v' (one header), WRKS=/abs/script.lua (wrk script, e.g. bench/policies/post1k.lua),
# OUT=/tmp/cg-NAME.out (callgrind file). Prints the requests served and the
# instructions of the whole process: instructions per request = total / requests.
# Used for the instruction counts in docs/benchmarks.md; build the binary with
# `cargo build --profile cg` (or --release). Needs valgrind, nginx, wrk, h2load.
set -uo pipefail
BIN=$(realpath "$1"); cd "$(dirname "$0")/.."   # CONFIG: relative to the repository
CFG=$2; NAME=$3; N=$4; MODE=${5:-h1}; P=${6:-/}
PB=${PB:-18200}; BE=$PB; BE2=$((PB+1)); LP=$((PB+2)); AP=$((PB+3))
OUT=${OUT:-/tmp/cg-$NAME.out}; rm -f $OUT $OUT.*
RUN=$(mktemp -d); mkdir -p $RUN/www; head -c 16384 /dev/urandom > $RUN/www/16k.bin; cp bench/www/* $RUN/www/ 2>/dev/null
sed -e "s#@RUN@#$RUN#g" -e "s#127.0.0.1:18080#127.0.0.1:$BE#" -e "s#127.0.0.1:18078#127.0.0.1:$BE2#" -e "s#127.0.0.1:18079#127.0.0.1:$((PB+4))#" bench/conf/backend-nginx.conf > $RUN/b.conf
nginx -p $RUN -c $RUN/b.conf -g 'daemon off;' 2>$RUN/ng.err & NG=$!
sleep 0.5; kill -0 $NG 2>/dev/null || { echo "BACKEND NGINX FAILED:"; cat $RUN/ng.err; exit 1; }
LISTEN_ADDR=127.0.0.1:$LP BACKEND_ADDR=127.0.0.1:$BE BENCH_DIR=$PWD/bench/policies ADMIN_ADDR=127.0.0.1:$AP env ${EXTRA_ENV:-} \
  valgrind --tool=callgrind --callgrind-out-file=$OUT $BIN run -c $CFG >$RUN/tg.log 2>&1 & TG=$!
for i in $(seq 90); do curl -s -o /dev/null ${WRKH:+-H "$WRKH"} http://127.0.0.1:$LP$P && break; sleep 1; done
load() { if [ $MODE = h2 ]; then h2load -t1 -c20 -m10 -n $1 ${WRKH:+-H "$WRKH"} http://127.0.0.1:$LP$P | grep -E '^requests:|status codes'; else wrk -t1 -c20 -d$2s ${WRKH:+-H "$WRKH"} ${WRKS:+-s $WRKS} http://127.0.0.1:$LP$P | grep -E 'requests in|Non-2xx'; fi; }
load 2000 3 >/dev/null
callgrind_control -z $TG >/dev/null
load $N $N
callgrind_control -d $TG >/dev/null
sleep 1
kill -INT $TG; sleep 2; kill $TG $NG 2>/dev/null; sleep 0.5
grep -v '^$' $RUN/tg.log | grep -iE 'error|warn' | head -3
rm -rf $RUN
F=$(ls -t $OUT.* 2>/dev/null | head -1); echo "file: $F"
[ -n "$F" ] && callgrind_annotate $F 2>/dev/null | grep 'PROGRAM TOTALS'
