#!/usr/bin/env bash
# Runs Backline on its embedded defaults (SQLite ledger and local-disk storage in ./backline-data),
# with the web UI built and embedded when Node is available.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v npm >/dev/null; then
  (cd ui && npm ci --no-audit --no-fund && npm run build)
else
  echo "npm not found: starting without the web UI (the API and /docs still work)" >&2
fi
exec cargo run --release --bin backline -- serve "$@"
