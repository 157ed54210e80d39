#!/usr/bin/env bash
# The whole test suite, as the README says: the workspace tests, then the SP1
# tests: guest programs built with Debian's Rust, sp1-sdk in release (about 15
# minutes the first time on 2 cores), execute and mock-proof tests, and one
# real CPU Core proof run alone (~80 s, ~10 GB) that must verify while a
# tampered receipt must not.
#
# PAAS_SKIP_SP1=1 runs the workspace tests only (a few minutes);
# `scripts/test.sh --sp1-only` runs the SP1 tests only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--sp1-only" ]]; then
  echo "=== workspace tests"
  cargo test --workspace
fi

if [[ "${PAAS_SKIP_SP1:-0}" == 1 ]]; then
  echo "SP1 tests skipped (PAAS_SKIP_SP1=1)"
  exit 0
fi

# One profile and one feature set for everything that links sp1-sdk, and an
# explicit target folder (sp1-sdk's nested build otherwise writes into the
# cargo registry). .ci/run uses the same line for the SP1 build it adds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
sp1=(--release -p paas-zkvm -p paas-examples --features paas-zkvm/sp1,paas-examples/sp1)

echo "=== SP1: protoc (sp1-sdk's build needs it)"
if ! command -v protoc >/dev/null 2>&1; then
  sudo=()
  [[ "$(id -u)" != 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq protobuf-compiler >/dev/null
fi
protoc --version

echo "=== SP1: guest ELFs"
bash scripts/build-guests.sh

echo "=== SP1: execute and mock-proof tests"
cargo test "${sp1[@]}" --test sp1

echo "=== SP1: one real CPU Core proof, alone"
cargo test "${sp1[@]}" --test sp1 -- --ignored --test-threads=1 --nocapture
