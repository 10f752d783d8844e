#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads outside input (issue #15): cargo fuzz
# (libFuzzer, AddressSanitizer, nightly Rust) on the targets in fuzz/fuzz_targets/, seeded from
# the conformance vectors and test fixtures (fuzz/seeds.py).
#
#   scripts/fuzz.sh smoke              # every target for RUNS executions (default 2000) from the
#                                      # seeds alone with a fixed random seed, as CI does: an
#                                      # unoptimised build without sanitizer (it finds panics and
#                                      # hangs; 7-10 min cold on 2 cores, against 26 min for the
#                                      # optimised AddressSanitizer build of `long`)
#   scripts/fuzz.sh long [SECONDS]     # every target for SECONDS (default 600), one after another
#   scripts/fuzz.sh run TARGET [ARGS]  # one target, libFuzzer ARGS as given
#
# The corpora grow in ${IMAGEAUTOMATION_FUZZ_DIR:-$HOME/.cache/imageautomation/fuzz}/corpus
# (outside the checkout); a crash is written to fuzz/artifacts/<target>/ and fails the run.
# Every crash found becomes a regression test in the crate it was found in.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/fuzz"
WORK=${IMAGEAUTOMATION_FUZZ_DIR:-$HOME/.cache/imageautomation/fuzz}
CARGO_FUZZ_VERSION=0.13.2

# Nightly Rust (cargo fuzz passes -Zsanitizer=address) and cargo-fuzz, installed once.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

targets=$(cargo +nightly fuzz list)
mkdir -p "$WORK/corpus"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 seeds.py "$seeds"

# Build flags: `long` and `run` fuzz an optimised AddressSanitizer build; `smoke` a quick one.
BUILD=(-O)
[ "${1:-smoke}" = smoke ] && BUILD=(--dev --sanitizer none)

run() { # corpus dir, target, libFuzzer args...
    local corpus=$1 t=$2; shift 2
    mkdir -p "$corpus/$t" "$seeds/$t"
    cargo +nightly fuzz run "${BUILD[@]}" "$t" "$corpus/$t" "$seeds/$t" -- "$@"
}

case ${1:-smoke} in
    smoke)
        cargo +nightly fuzz build "${BUILD[@]}"
        # Repeatable: the seeds only (a fresh corpus) and a fixed random seed.
        for t in $targets; do
            echo "== $t: ${RUNS:-2000} runs" >&2
            run "$seeds/new" "$t" -runs="${RUNS:-2000}" -seed=1 -max_len=4096 -print_final_stats=1
        done ;;
    long)
        cargo +nightly fuzz build -O
        for t in $targets; do
            echo "== $t: ${2:-600} s" >&2
            run "$WORK/corpus" "$t" -max_total_time="${2:-600}" -max_len=16384 -print_final_stats=1
        done ;;
    run) shift; t=$1; shift; run "$WORK/corpus" "$t" "$@" ;;
    *) echo "usage: scripts/fuzz.sh smoke|long [SECONDS]|run TARGET [ARGS]" >&2; exit 2 ;;
esac
