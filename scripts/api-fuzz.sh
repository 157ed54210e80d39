#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with schemathesis (from
# PyPI): a demo node (paas-api's `serve` example, with a token) runs on a
# free loopback port; every check (scripts/schemathesis.toml says where
# the API answers otherwise, and why); every documented operation but the endless event
# stream gets generated requests; no answer may be a 5xx or differ from the
# document. Bounded: --max-examples per operation and a time limit.
#
#   scripts/api-fuzz.sh [MAX_EXAMPLES]   (default 40)
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples="${1:-40}"

if ! command -v schemathesis >/dev/null 2>&1; then
  echo "=== installing schemathesis (PyPI)"
  python3 -m pip install -q schemathesis \
    || python3 -m pip install -q --break-system-packages schemathesis
  hash -r
fi
schemathesis --version

cargo build -q -p paas-api --example serve
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="fuzz-token-$(date +%s%N)"
log=$(mktemp)
PAAS_API_TOKEN="$token" "${CARGO_TARGET_DIR:-target}/debug/examples/serve" "127.0.0.1:$port" >"$log" 2>&1 &
node=$!
trap 'kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/livez" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/livez" >/dev/null || { cat "$log"; echo "the demo node did not start" >&2; exit 1; }

echo "=== schemathesis against http://127.0.0.1:$port/openapi.json ($max_examples examples per operation)"
timeout 600 schemathesis --config-file scripts/schemathesis.toml run \
  "http://127.0.0.1:$port/openapi.json" \
  --exclude-path /v1/events \
  --max-examples "$max_examples" \
  --request-timeout 10 \
  --workers 1 \
  --header "Authorization: Bearer $token" \
  --header "X-PaaS-Client: schemathesis" \
  --no-color
