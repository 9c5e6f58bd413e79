#!/usr/bin/env bash
# Runs every test of tollgate: unit tests of each crate, the integration
# tests against real sockets, and the examples parsed by the config tests.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace --all-targets "$@"
