#!/usr/bin/env bash
# The whole test suite, as the README says: the workspace tests, then the SP1
# tests: guest programs built with Debian's Rust, sp1-sdk in release (about 15
# minutes the first time on 2 cores), execute and mock-proof tests, and one
# real CPU Core proof run alone (~80 s, ~10 GB) that must verify while a
# tampered receipt must not.
#
# The workspace tests include the PostgreSQL store's, against the server at
# PAAS_TEST_PG (default: the local one, started here if it is stopped; one
# test restarts it, PAAS_SKIP_PG_RESTART=1 skips that one).
#
# PAAS_SKIP_SP1=1 runs the workspace tests only (a few minutes);
# `scripts/test.sh --sp1-only` runs the SP1 tests only.
set -euo pipefail
cd "$(dirname "$0")/.."

# The PostgreSQL store's tests need a server: PAAS_TEST_PG, or the local one
# on 127.0.0.1:5432 (started here if it is installed but stopped).
ensure_postgres() {
  local url="${PAAS_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
  if pg_isready -d "$url" -q 2>/dev/null; then
    return
  fi
  if [[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "=== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    for _ in $(seq 1 30); do
      pg_isready -d "$url" -q && return
      sleep 1
    done
  fi
  echo "PostgreSQL is not reachable at $url: the PostgreSQL store's tests need it" >&2
  echo "(install and start it, or point PAAS_TEST_PG at a server)" >&2
  exit 1
}

if [[ "${1:-}" != "--sp1-only" ]]; then
  ensure_postgres
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
