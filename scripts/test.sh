#!/usr/bin/env bash
# Runs every test of kmsd: formatting and lints, the Rust unit/property/vector/wire tests, and
# the SDK conformance suites that drive the real kmsd with the official Alibaba Cloud SDKs
# (installed at pinned versions by tests/sdk/setup.sh on first use) — on both storage engines:
# SQLite, and PostgreSQL (a local server, installed and started by scripts/postgres.sh), and the SDK
# suites once more against three nodes on one PostgreSQL behind a round-robin endpoint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "tools the tests call"
# The asymmetric tests check signatures and ciphertexts with the openssl command (an
# implementation independent of kmsd's).
if ! command -v openssl >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  else
    echo "the tests need the openssl command" >&2
    exit 1
  fi
fi
# The root key in a PKCS#11 token is tested against SoftHSM2 (the module, softhsm2-util to make
# tokens, and OpenSC's pkcs11-tool to list what a token holds).
if ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 opensc >/dev/null
  else
    echo "the tests need SoftHSM2 (softhsm2-util) and OpenSC (pkcs11-tool)" >&2
    exit 1
  fi
fi
# The console's browser test drives Debian's chromium (through Playwright, installed with the
# SDKs by tests/sdk/setup.sh); its build and unit tests need node and npm.
# Only what is missing: a Node.js from elsewhere (NodeSource's, say) carries its own npm, and
# Debian's npm package conflicts with it.
browser_packages=()
command -v chromium >/dev/null || browser_packages+=(chromium)
command -v node >/dev/null || browser_packages+=(nodejs)
command -v npm >/dev/null || browser_packages+=(npm)
if [ "${#browser_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_packages[@]}" >/dev/null
  else
    echo "the tests need chromium, node and npm (missing: ${browser_packages[*]})" >&2
    exit 1
  fi
fi
step "PostgreSQL for the tests"
KMSD_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"
export KMSD_TEST_POSTGRES_URL
step "cargo build (kmsd)"
cargo build --workspace
step "cargo test (SQLite; the storage conformance suite on both engines)"
cargo test --workspace
step "console: the embedded files are the build of console/, and its signing against kmsd"
(cd console && npm ci --silent --no-audit --no-fund && KMSD_BIN="$PWD/../target/debug/kmsd" node --test test/)
step "wire tests on PostgreSQL"
KMSD_TEST_STORE=postgres cargo test -p kms-server --tests
step "SDK conformance on SQLite (official Python and Node SDKs against target/debug/kmsd)"
KMSD_BIN="$PWD/target/debug/kmsd" bash tests/sdk/run.sh
step "SDK conformance on PostgreSQL"
KMSD_TEST_STORE=postgres KMSD_BIN="$PWD/target/debug/kmsd" bash tests/sdk/run.sh
step "SDK conformance with the root key in a PKCS#11 token (SoftHSM2), SQLite and PostgreSQL"
KMSD_TEST_ROOT=pkcs11 KMSD_BIN="$PWD/target/debug/kmsd" bash tests/sdk/run.sh
KMSD_TEST_ROOT=pkcs11 KMSD_TEST_STORE=postgres KMSD_BIN="$PWD/target/debug/kmsd" bash tests/sdk/run.sh
step "SDK conformance on three nodes sharing one PostgreSQL, requests spread round-robin (kms-cluster)"
KMSD_TEST_STORE=postgres KMSD_BIN="$PWD/target/debug/kms-cluster" bash tests/sdk/run.sh
step "dropping the test databases"
psql "$KMSD_TEST_POSTGRES_URL" -qAt -c "SELECT datname FROM pg_database WHERE datname LIKE 'kmsd\_%'" |
  while read -r db; do psql "$KMSD_TEST_POSTGRES_URL" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
echo "all tests passed on SQLite and PostgreSQL"
