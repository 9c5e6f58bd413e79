#!/usr/bin/env bash
# Runs every test of tollgate: unit tests of each crate, the integration
# tests against real sockets, and the examples parsed by the config tests.
# Tests that need a real redis-server find it on PATH; it is installed here
# when missing, and the run stops loudly when it cannot be.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v redis-server >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq redis-server; } || {
        echo "redis-server is missing and could not be installed; run: apt-get install -y redis-server" >&2
        exit 1
    }
fi
# tests/upgrade.rs passes sockets the way systemd does through a small
# python3 launcher (dup2 to fd 3, then exec), which needs no unsafe code.
if ! command -v python3 >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq python3; } || {
        echo "python3 is missing and could not be installed; run: apt-get install -y python3" >&2
        exit 1
    }
fi
cargo test --workspace --all-targets "$@"
