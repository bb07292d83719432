#!/usr/bin/env bash
# Installs the official Alibaba Cloud SDKs used by the SDK conformance suite, at pinned versions:
#   Python: $REPO/.venv from tests/sdk/requirements.txt + constraints.txt (full lock), then
#           tests/sdk/requirements-nodeps.txt with --no-deps (clients whose declared requirements
#           conflict with the lock; `pip check` lists those conflicts, see that file)
#   Node:   tests/sdk/node/node_modules from package-lock.json (npm ci)
# Idempotent: each half is skipped when its stamp matches the lock files and the interpreter.
# Needs only the PyPI and npm registries. Does not build kmsd.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv"
NODE_DIR="$HERE/node"
PYTHON="${PYTHON:-python3}"

log() { printf 'sdk-setup: %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    log "missing $*, and cannot apt-get install it here"
    return 1
  fi
}

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---- Python --------------------------------------------------------------------------
setup_python() {
  command -v "$PYTHON" >/dev/null || apt_install python3 python3-venv
  # test_asymmetric.py checks SM2 signatures and makes SM2 ciphertexts with the openssl command
  command -v openssl >/dev/null || apt_install openssl
  local want
  want="$(stamp_of "$HERE/requirements.txt" "$HERE/constraints.txt" "$HERE/requirements-nodeps.txt") $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.kmsd-sdk-stamp" 2>/dev/null)" = "$want" ] \
     && "$VENV/bin/python" -c 'import aliyunsdkcore, aliyunsdkkms, alibabacloud_kms20160120, alibabacloud_gateway_pop, alibabacloud_secretsmanager_client_v2, openapi_util.client, openapi_credential.client, OpenSSL, pytest, alibabacloud_kms_kms20160120.transfer_client, alibaba_cloud_secretsmanager_client.secret_manager_cache_client_builder, alibabacloud_dkms_transfer.kms_transfer_acs_client' 2>/dev/null; then
    log "python SDKs already installed ($VENV)"
    return
  fi
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null \
     || [ "$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')" != "${want##* }" ]; then
    log "creating $VENV with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
      rm -rf "$VENV"
      apt_install python3-venv
      "$PYTHON" -m venv "$VENV"
    fi
  fi
  log "installing python SDKs"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$HERE/requirements.txt" -c "$HERE/constraints.txt"
  # A separate step on purpose: with their declared requirements pip refuses these next to the
  # lock (ResolutionImpossible: alibabacloud_kms20160120<3, protobuf<3.20, cryptography<=38.0.3,
  # ...); without them they work on it (docs/design/gateway.md §2). `pip check` is expected to
  # list those conflicts, so nothing here runs it.
  log "installing --no-deps python clients"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    -r "$HERE/requirements-nodeps.txt"
  "$VENV/bin/python" - <<'EOF'
from importlib.metadata import version
pins = {
    "aliyun-python-sdk-core": "2.16.1",
    "aliyun-python-sdk-kms": "2.16.5",
    "alibabacloud-kms20160120": "3.3.1",
    "alibabacloud-tea-openapi": "0.4.6",
    "darabonba-core": "1.0.9",
    "alibabacloud-gateway-pop": "0.1.3",
    "alibabacloud-secretsmanager-client-v2": "2.0.0",
    "alibabacloud-dkms-gcs": "1.0.2",
    "pyOpenSSL": "23.2.0",
    "cryptography": "41.0.7",
    "protobuf": "3.20.3",
    # --no-deps (requirements-nodeps.txt)
    "alibabacloud-kms-python-sdk": "1.1.3",
    "aliyun-secret-manager-client": "0.1.5",
    "alibabacloud-dkms-transfer-python": "0.1.2",
}
bad = {name: version(name) for name, want in pins.items() if version(name) != want}
assert not bad, f"unexpected SDK versions installed: {bad}"
EOF
  echo "$want" > "$VENV/.kmsd-sdk-stamp"
}

# ---- Node ----------------------------------------------------------------------------
setup_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 18 ]; then
    log "node $(node --version) is too old: the suite needs node >= 18 (node:test)"
    return 1
  fi
  local want
  want="$(stamp_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json") $(node --version)"
  if [ "$(cat "$NODE_DIR/node_modules/.kmsd-sdk-stamp" 2>/dev/null)" = "$want" ]; then
    log "node SDKs already installed ($NODE_DIR/node_modules)"
    return
  fi
  log "installing node SDKs (npm ci)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  (cd "$NODE_DIR" && node -e '
    const pins = {"@alicloud/pop-core": "1.8.0", "@alicloud/kms20160120": "1.2.0", "@alicloud/openapi-client": "0.4.15"};
    for (const [name, want] of Object.entries(pins)) {
      const got = require(`${name}/package.json`).version;
      if (got !== want) { console.error(`${name}: installed ${got}, pinned ${want}`); process.exit(1); }
    }')
  echo "$want" > "$NODE_DIR/node_modules/.kmsd-sdk-stamp"
}

setup_python
setup_node
log "done"
