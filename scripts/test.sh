#!/usr/bin/env bash
# Runs every test of Backline: lint, unit tests, and the end-to-end tests against the real
# PostgreSQL and MariaDB on this machine (see README.md for what must be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast
