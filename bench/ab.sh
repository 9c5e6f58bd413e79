#!/usr/bin/env bash
# Quick A/B of already running proxies: CPU time per request of each, in
# interleaved rounds of wrk (pinned to core 1; pin the proxies to core 0).
# Usage: bench/ab.sh ROUNDS SECONDS PATH name:port:pid [name:port:pid ...]
#        HDR='Connection: close' bench/ab.sh 4 6 / nginx:18081:1234 tollgate:18099:5678
# For recorded results use run.sh (noise detection, h2c, RSS); this is for
# comparing two builds in a few minutes.
set -euo pipefail
R=$1; D=$2; P=$3; shift 3
for r in $(seq "$R"); do
  for spec in "$@"; do
    IFS=: read -r name port pid <<<"$spec"
    t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    out=$(taskset -c 1 wrk -t1 -c50 -d"${D}s" ${HDR:+-H "$HDR"} "http://127.0.0.1:$port$P" 2>&1)
    t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    n=$(echo "$out" | awk '/requests in/{print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    echo "$r $name rps=$rps us/req=$(echo "scale=2; ($t1-$t0)*1000000/$(getconf CLK_TCK)/$n" | bc)"
  done
done
