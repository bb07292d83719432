#!/usr/bin/env bash
# SDK conformance suite: drives a real kmsd with the official Alibaba Cloud Python and Node SDKs.
#
#   KMSD_BIN=/path/to/kmsd tests/sdk/run.sh      (default KMSD_BIN: <repo>/target/debug/kmsd)
#
# Does NOT build kmsd: build it first (cargo build). Exits non-zero if anything fails.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export KMSD_BIN="${KMSD_BIN:-$REPO/target/debug/kmsd}"

bash "$HERE/setup.sh" || { echo "sdk: setup.sh failed" >&2; exit 1; }

if [ ! -x "$KMSD_BIN" ]; then
  echo "sdk: kmsd binary not found or not executable: $KMSD_BIN (build it first, or set KMSD_BIN)" >&2
  exit 1
fi

# KMSD_TEST_ROOT=pkcs11: every kmsd the suites start keeps its root key in one SoftHSM2 token
# made here (its own key label each), through --root-key-pkcs11.
if [ "${KMSD_TEST_ROOT:-file}" = pkcs11 ]; then
  hsm="$(mktemp -d)"
  mkdir "$hsm/tokens"
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$hsm" > "$hsm/softhsm2.conf"
  export SOFTHSM2_CONF="$hsm/softhsm2.conf"
  echo "8642-sdk" > "$hsm/pin"
  softhsm2-util --init-token --free --label kmsd-sdk --pin 8642-sdk --so-pin 97531-so >/dev/null
  module=""
  for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/softhsm/libsofthsm2.so; do
    [ -e "$m" ] && module="$m" && break
  done
  [ -n "$module" ] || { echo "sdk: SoftHSM2's module not found" >&2; exit 1; }
  export KMSD_TEST_ROOT_URI_PREFIX="pkcs11:token=kmsd-sdk;object="
  export KMSD_TEST_ROOT_URI_SUFFIX="?module-path=$module&pin-source=file:$hsm/pin"
  echo "== sdk: root keys in the SoftHSM2 token kmsd-sdk ($SOFTHSM2_CONF)"
fi

rc=0

echo "== sdk: python (aliyun-python-sdk-core, alibabacloud-kms20160120) against $KMSD_BIN"
PYTHONDONTWRITEBYTECODE=1 "$REPO/.venv/bin/python" -m pytest -q "$HERE/python" || rc=1

echo "== sdk: node (@alicloud/pop-core, @alicloud/kms20160120, @alicloud/openapi-client) against $KMSD_BIN"
(cd "$HERE/node" && node --test ./*.test.mjs) || rc=1

if [ "$rc" -ne 0 ]; then
  echo "sdk: FAILED" >&2
fi
exit "$rc"
