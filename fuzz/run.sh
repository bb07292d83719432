#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each (default 30) on the stable
# toolchain, after seeding corpus/ from crates/kms-wire/tests/vectors. Exits non-zero if any target
# crashed, with the crashing inputs left in artifacts/<target>/.
#
#   fuzz/run.sh                       # all targets, 30 s each
#   FUZZ_SECONDS=600 fuzz/run.sh verify_acs4
#
# Stable Rust has no sanitizers, hence `--sanitizer none` (panics and failed assertions are
# still caught). For ASan on stable: FUZZ_SANITIZER=address RUSTC_BOOTSTRAP=1 fuzz/run.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
seconds=${FUZZ_SECONDS:-30}
sanitizer=${FUZZ_SANITIZER:-none}
vectors=${KMSD_VECTORS:-$root/crates/kms-wire/tests/vectors}
# Its own target dir, so fuzzing never holds the lock on the main workspace's.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir "$here")
fi

if [ -d "$vectors" ]; then
    python3 "$here/seed.py" "$vectors" "$here/corpus"
else
    echo "no vectors at $vectors: starting from empty corpora" >&2
fi

cd "$root"
cargo fuzz build --fuzz-dir "$here" --sanitizer "$sanitizer"

mkdir -p "$here/logs"
failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "$here/corpus/$t"
    log="$here/logs/$t.log"
    echo "== $t: ${seconds}s"
    if cargo fuzz run --fuzz-dir "$here" --sanitizer "$sanitizer" "$t" -- \
        -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 \
        >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
        # The panic line, the first frames in this repository, and where the input went.
        { grep -m1 -A1 "panicked at" "$log"; grep -m3 -E "at \./(crates|fuzz)/" "$log"
          grep -E "Test unit written to" "$log"; } >&2 || tail -n 30 "$log" >&2
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' "$log" | tail -n 1 || true)
    summary+=("$(printf '%-16s %-6s runs=%-10s exec/s=%-7s %s' "$t" "$status" "${runs:-?}" "${rate:-?}" "$cov")")
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in $here/artifacts/, logs in $here/logs/)" >&2
    exit 1
fi
