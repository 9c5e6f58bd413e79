# Shared by the bench scripts (sourced after RUN, a temporary directory, is
# set): starting pinned processes and stopping them on exit, waiting for a
# server, CPU and memory of a process tree, and the CPU other processes use.

declare -A PID PORT
STARTED=()          # pids in start order
MYPIDS=""           # every pid of every tree we started (the script fills it)
cleanup() {
  local i p
  for ((i=${#STARTED[@]}-1; i>=0; i--)); do
    p=${STARTED[$i]}
    kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
  done
  for p in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { echo "pid $p still alive, SIGKILL" >&2; kill -KILL "$p" 2>/dev/null; }
  done
  [ -n "${SAMPLER:-}" ] && kill -0 "$SAMPLER" 2>/dev/null && kill -TERM "$SAMPLER"
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # start NAME CORE CMD...   (process stays in foreground; its pid is recorded)
  local name=$1 core=$2; shift 2
  taskset -c "$core" "$@" >"$RUN/$name.log" 2>&1 &
  PID[$name]=$!; STARTED+=($!)
}
wait_url() {  # wait_url URL: until it answers 200 (certificates not checked)
  for _ in $(seq 100); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
wait_http() { wait_url "http://127.0.0.1:$1${2:-/}"; }  # wait_http PORT [PATH]
tree_pids() { local p=$1 c; echo "$p"; for c in $(cat /proc/$p/task/*/children 2>/dev/null); do tree_pids "$c"; done; }
cpu_ticks() { local t=0 p; for p in $(tree_pids "$1"); do
    t=$((t + $(sed 's/.*) //' /proc/$p/stat 2>/dev/null | awk '{print $12+$13}' || echo 0))); done; echo $t; }
mem_kb() { local t=0 p v; for p in $(tree_pids "$1"); do   # mem_kb PID VmRSS|VmHWM
    v=$(awk -v k="$2:" '$1==k{print $2}' /proc/$p/status 2>/dev/null); t=$((t + ${v:-0})); done; echo $t; }
foreign_snap() {  # "pid ticks" of every process that is not ours
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v ex=" $MYPIDS " '{ pid=$1; s=$0; sub(/.*\) /,"",s); split(s,f," ");
      if (f[2]==2 || pid==2 || index(ex, " " pid " ")) next; print pid, f[12]+f[13] }'
}
HZ=$(getconf CLK_TCK)
