#!/usr/bin/env bash
# Runs Backline on its embedded defaults (SQLite ledger and local-disk storage in ./backline-data),
# with the web UI built and embedded when Node is available. The UI is rebuilt only when its
# sources changed since the last build; the first run compiles Backline (about 10 minutes on 2
# cores), later runs start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ui_sources_hash() {
  (cd ui && cat package-lock.json index.html vite.config.ts tsconfig.json $(find src -type f | sort)) | sha256sum | cut -d' ' -f1
}
if command -v npm >/dev/null; then
  want=$(ui_sources_hash)
  if [ "$(cat ui/dist/.sources 2>/dev/null)" = "$want" ]; then
    echo "web UI already built from these sources (ui/dist)" >&2
  else
    lock=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
    if [ ! -d ui/node_modules ] || [ "$(cat ui/node_modules/.lock-sha 2>/dev/null)" != "$lock" ]; then
      (cd ui && npm ci --no-audit --no-fund) && echo "$lock" > ui/node_modules/.lock-sha
    fi
    (cd ui && npm run build) && echo "$want" > ui/dist/.sources
  fi
else
  echo "npm not found: starting without the web UI (the API and /docs still work)" >&2
fi
exec cargo run --release --bin backline -- serve "$@"
