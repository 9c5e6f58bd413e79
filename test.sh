#!/usr/bin/env bash
# Runs every test of tollgate: unit tests of each crate, the integration
# tests against real sockets, and the examples parsed by the config tests.
# Tests that need a real redis-server find it on PATH; it is installed here
# when missing, and the run stops loudly when it cannot be; so is Chromium.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v redis-server >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq redis-server; } || {
        echo "redis-server is missing and could not be installed; run: apt-get install -y redis-server" >&2
        exit 1
    }
fi
# The dashboard test (tests/dashboard.rs) renders the page in headless Chromium.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq chromium; } || {
        echo "chromium is missing and could not be installed; run: apt-get install -y chromium" >&2
        exit 1
    }
fi
cargo test --workspace --all-targets "$@"
