#!/usr/bin/env bash
# Runs every test of kmsd: formatting and lints, the Rust unit/property/vector/wire tests, and
# the SDK conformance suites that drive the real kmsd with the official Alibaba Cloud SDKs
# (installed at pinned versions by tests/sdk/setup.sh on first use).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo build (kmsd)"
cargo build --workspace
step "cargo test"
cargo test --workspace
step "SDK conformance (official Python and Node SDKs against target/debug/kmsd)"
KMSD_BIN="$PWD/target/debug/kmsd" bash tests/sdk/run.sh
