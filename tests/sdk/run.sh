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

rc=0

echo "== sdk: python (aliyun-python-sdk-core, alibabacloud-kms20160120) against $KMSD_BIN"
PYTHONDONTWRITEBYTECODE=1 "$REPO/.venv/bin/python" -m pytest -q "$HERE/python" || rc=1

echo "== sdk: node (@alicloud/pop-core, @alicloud/kms20160120, @alicloud/openapi-client) against $KMSD_BIN"
(cd "$HERE/node" && node --test ./*.test.mjs) || rc=1

if [ "$rc" -ne 0 ]; then
  echo "sdk: FAILED" >&2
fi
exit "$rc"
