#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer)
# for a while each: `scripts/fuzz.sh [SECONDS]` (default 60 per target).
# The targets: task_key (any bytes as a stored key or a URL's hex key),
# key_order (keys order as their ids), api_input (a submit body and a
# listing's query string). A failing input is kept under fuzz/artifacts/
# and the script fails; `cargo +nightly fuzz run TARGET fuzz/artifacts/...`
# replays it.
#
# cargo-fuzz needs a nightly compiler: the nightly toolchain when rustup has
# one, else the default toolchain with RUSTC_BOOTSTRAP=1. Installs
# cargo-fuzz from crates.io if it is missing.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

cargo "${toolchain[@]}" fuzz build -O
for target in $(cargo "${toolchain[@]}" fuzz list); do
  echo "fuzzing $target for ${seconds}s"
  cargo "${toolchain[@]}" fuzz run -O "$target" -- -max_total_time="$seconds" -print_final_stats=0 2>&1 |
    grep -E '^(Done|==[0-9]+==|SUMMARY)|panicked|artifact_prefix|Test unit written' || true
  # cargo fuzz run exits non-zero on a finding; pipefail is off for grep's
  # sake, so check for an artifact instead.
  if compgen -G "artifacts/$target/*" >/dev/null; then
    echo "fuzz target $target found a failing input: $(ls artifacts/"$target")" >&2
    exit 1
  fi
done
echo "fuzzing: every target ran ${seconds}s without a failure"
