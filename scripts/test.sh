#!/usr/bin/env bash
# Runs every test of Backline: lint, unit tests, the end-to-end tests against the real
# PostgreSQL and MariaDB on this machine, and the web UI's component and browser tests
# (see README.md for what must be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

cargo fmt --all -- --check
python3 scripts/check-structure.py
cargo clippy --workspace --all-targets -- -D warnings

(cd ui && npm ci --no-audit --no-fund && npm test && npm run build)

cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast

# The API matches its OpenAPI document (Schemathesis).
./scripts/contract.sh "$CARGO_TARGET_DIR/debug/backline"

# Browser end-to-end: the real server (UI embedded) driven by headless Chromium. Its webhook
# receiver listens on 127.0.0.1, which webhooks may reach only when private addresses are allowed.
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BACKLINE_DATA_DIR="$data" BACKLINE_LISTEN="127.0.0.1:$port" BACKLINE_ADMIN_TOKEN=e2e-admin-token-0123456789abcdef \
  BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true \
  "$CARGO_TARGET_DIR/debug/backline" serve >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
(cd ui && BACKLINE_URL="http://127.0.0.1:$port" BACKLINE_TOKEN=e2e-admin-token-0123456789abcdef npm run e2e)
