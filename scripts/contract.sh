#!/usr/bin/env bash
# The API contract test: Schemathesis against a running `backline serve` and its own
# /openapi.json, with every built-in check but two that test what the document cannot say:
#   positive_data_acceptance - a schema-valid body can still be refused with 422 (a cron
#     expression's grammar, a connection string that does not parse, a webhook with no url,
#     a timezone without a schedule): the document cannot express those rules;
#   use_after_free - removing a database keeps its history readable on purpose
#     (GET /databases/{id}/backups after DELETE answers 200).
# Operations that start long work (backups, restores), the endless event stream and the SSH
# host-key scan (it would connect to whatever host name the fuzzer makes up) are left out.
# Usage: scripts/contract.sh [path to the backline binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-$PWD/target}/debug/backline}"
command -v schemathesis >/dev/null || { echo "schemathesis is not installed: pip install schemathesis" >&2; exit 1; }
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=contract-test-token-0123456789abcdef
# Wrong tokens are part of the checks: let them through the throttle (its own tests cover it).
BACKLINE_DATA_DIR="$data" BACKLINE_LISTEN="127.0.0.1:$port" BACKLINE_ADMIN_TOKEN=$token \
  BACKLINE_SCHEDULER=false BACKLINE_AUTH_FREE_FAILURES=1000000 \
  "$bin" serve >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance,use_after_free \
  --exclude-operation-id streamEvents --exclude-operation-id startBackup --exclude-operation-id startRestore \
  --exclude-operation-id scanSshHost \
  --max-examples 50 --workers 2 --seed 20261130
if grep -q "panicked" "$data/server.log"; then
  echo "the server panicked during the contract test:" >&2
  grep -A5 panicked "$data/server.log" >&2
  exit 1
fi
