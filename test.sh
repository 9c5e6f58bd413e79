#!/usr/bin/env bash
# Runs every test of tollgate: unit tests of each crate, the integration
# tests against real sockets, and the examples parsed by the config tests.
# Programs the tests run for real are found on PATH, installed here when
# missing, and the run stops loudly, with the install line, when they cannot
# be; no test is skipped for want of one.
set -euo pipefail
cd "$(dirname "$0")"

# need PACKAGE COMMAND...: installs PACKAGE unless one of COMMANDs is on PATH.
need() {
    local pkg=$1 cmd
    shift
    for cmd in "$@"; do command -v "$cmd" >/dev/null && return 0; done
    { apt-get update -qq && apt-get install -y -qq "$pkg"; } || {
        echo "$pkg is missing and could not be installed; run: apt-get install -y $pkg" >&2
        exit 1
    }
}
need redis-server redis-server            # rate limits shared through Redis (tests/ratelimit*.rs)
need chromium chromium chromium-browser   # the dashboard rendered headless (tests/dashboard.rs)
need python3 python3                      # the systemd-style socket launcher (tests/upgrade.rs)
cargo test --workspace --all-targets "$@"
