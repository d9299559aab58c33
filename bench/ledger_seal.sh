#!/usr/bin/env bash
# Append throughput of the ledger with sealing on vs off, on SQLite and PostgreSQL, and the
# speed of `backline ledger verify` (events/s). See bench/README.md.
#
#   cargo build --release -p backline-api && bench/ledger_seal.sh
#   BACKLINE_BIN=target/debug/backline BENCH_EVENTS=2000 bench/ledger_seal.sh   # quick
#
# Appends are database registrations through the HTTP API (one event each), from
# BENCH_CLIENTS clients (default 1); "on" seals every second (BACKLINE_SEAL_INTERVAL_SECS=1),
# "off" not at all. Each configuration runs BENCH_RUNS times; the median is reported.
#
# Verify speed is then measured where it matters, on a big ledger: the events of one run are
# multiplied by SQL (each copy under new aggregate ids, BENCH_VERIFY_EVENTS in all, default
# 500000), `ledger seal` seals them (its rate is reported too) and `ledger verify` reads and
# checks every one (its own duration_ms; the target is >= 200k events/s).
set -euo pipefail

BIN=${BACKLINE_BIN:-target/release/backline}
EVENTS=${BENCH_EVENTS:-5000}
CLIENTS=${BENCH_CLIENTS:-1}
RUNS=${BENCH_RUNS:-3}
PGURL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
TOKEN=bench-admin-token-0123456789abcdef

[ -x "$BIN" ] || { echo "no $BIN: cargo build --release -p backline-api (or set BACKLINE_BIN)" >&2; exit 1; }
command -v psql >/dev/null || { echo "psql is needed for the PostgreSQL ledger" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# append <base url> <events> <clients> -> events/s
append() {
  python3 - "$1" "$2" "$3" "$TOKEN" <<'PY'
import json, sys, threading, time, urllib.request, uuid
base, total, clients, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
prefix = uuid.uuid4().hex[:8]
per = total // clients
errors = []
def run(c):
    try:
        append_some(c)
    except Exception as e:  # reported below: a failed append fails the bench
        errors.append("%s: %s" % (e, getattr(e, "read", lambda: b"")().decode(errors="replace")))
def append_some(c):
    for i in range(per):
        body = json.dumps({"name": f"b{prefix}_{c}_{i}", "engine": "postgres",
                           "connection": "postgres://app@127.0.0.1:5432/app"}).encode()
        req = urllib.request.Request(base + "/api/v1/databases", data=body, method="POST",
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 201, r.status
start = time.monotonic()
threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
if errors:
    sys.stderr.write("%d clients failed, e.g. %s\n" % (len(errors), errors[0]))
    sys.exit(1)
print("%.1f" % (per * clients / (time.monotonic() - start)))
PY
}

# one_run <store> <seal interval> -> "append events/s"
one_run() {
  local store=$1 interval=$2 dir url port pid rate db
  dir=$(mktemp -d -p "$WORK")
  url=""
  if [ "$store" = postgres ]; then
    db="bench_seal_$$_$RANDOM"
    psql "$PGURL/postgres" -qc "CREATE DATABASE $db" >/dev/null
    url="$PGURL/$db"
  fi
  port=$(free_port)
  env BACKLINE_DATA_DIR="$dir" BACKLINE_LISTEN="127.0.0.1:$port" BACKLINE_ADMIN_TOKEN=$TOKEN \
    BACKLINE_SEAL_INTERVAL_SECS="$interval" BACKLINE_SCHEDULER=false BACKLINE_LOG=error \
    ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" serve >"$dir/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  if ! rate=$(append "http://127.0.0.1:$port" "$EVENTS" "$CLIENTS"); then
    echo "appending failed ($store, seal interval $interval); the server said:" >&2
    grep -E 'ERROR|WARN' "$dir/server.log" | tail -5 >&2
    exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Seal what is left, then time a full verification.
  env BACKLINE_DATA_DIR="$dir" BACKLINE_LOG=error ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" ledger seal >/dev/null
  local v
  v=$(env BACKLINE_DATA_DIR="$dir" BACKLINE_LOG=error ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" --json ledger verify)
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]); assert v["ok"], v; print(v["events"], v["duration_ms"])' "$v" > "$dir/verify"
  echo "$rate" > "$dir/rate"
  [ -n "$url" ] && psql "$PGURL/postgres" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
  echo "$dir"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-9s %14s %14s %8s %16s\n' store "append off/s" "append on/s" "on/off" "verify events/s"
for store in sqlite postgres; do
  off=(); on=(); ver=()
  for _ in $(seq "$RUNS"); do
    d=$(one_run "$store" 0); off+=("$(cat "$d/rate")")
    d=$(one_run "$store" 1); on+=("$(cat "$d/rate")")
    read -r n ms < "$d/verify"
    ver+=("$(python3 -c "print('%.0f' % ($n / max($ms, 1) * 1000))")")
  done
  moff=$(printf '%s\n' "${off[@]}" | median)
  mon=$(printf '%s\n' "${on[@]}" | median)
  mver=$(printf '%s\n' "${ver[@]}" | median)
  printf '%-9s %14s %14s %8s %16s\n' "$store" "$moff" "$mon" \
    "$(python3 -c "print('%.3f' % ($mon / $moff))")" "$mver"
done
echo "($EVENTS appends by $CLIENTS clients per run, median of $RUNS; binary $BIN)"

VERIFY_EVENTS=${BENCH_VERIFY_EVENTS:-500000}
# Multiplies the ledger's events to about VERIFY_EVENTS (new aggregate ids per copy).
grow() {
  local store=$1 target=$2 have copies
  if [ "$store" = sqlite ]; then
    have=$(sqlite3 -batch "$target" "SELECT count(*) FROM events")
    copies=$(( VERIFY_EVENTS / have ))
    sqlite3 -batch "$target" "
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $copies - 1)
      INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
      SELECT e.aggregate_type, e.aggregate_id || '-' || n.i, e.sequence, e.event_type, e.event_version, e.payload, e.metadata
      FROM n CROSS JOIN (SELECT * FROM events ORDER BY position) e ORDER BY n.i, e.position;"
  else
    have=$(psql "$target" -qAtc "SELECT count(*) FROM events")
    copies=$(( VERIFY_EVENTS / have ))
    psql "$target" -qc "
      INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
      SELECT e.aggregate_type, e.aggregate_id || '-' || n.i, e.sequence, e.event_type, e.event_version, e.payload, e.metadata
      FROM generate_series(1, $copies - 1) n(i) CROSS JOIN events e ORDER BY n.i, e.position;" >/dev/null
  fi
}

command -v sqlite3 >/dev/null || { echo "sqlite3 is needed for the verify-at-scale part (apt-get install sqlite3)" >&2; exit 1; }
printf '\n%-9s %10s %12s %16s\n' store events "seal ev/s" "verify ev/s"
for store in sqlite postgres; do
  dir=$(mktemp -d -p "$WORK"); url=""; db=""
  if [ "$store" = postgres ]; then
    db="bench_verify_$$_$RANDOM"
    psql "$PGURL/postgres" -qc "CREATE DATABASE $db" >/dev/null
    url="$PGURL/$db"
  fi
  port=$(free_port)
  env BACKLINE_DATA_DIR="$dir" BACKLINE_LISTEN="127.0.0.1:$port" BACKLINE_ADMIN_TOKEN=$TOKEN \
    BACKLINE_SEAL_INTERVAL_SECS=0 BACKLINE_SCHEDULER=false BACKLINE_LOG=error \
    ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" serve >"$dir/server.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  append "http://127.0.0.1:$port" 1000 1 >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  grow "$store" "${url:-$dir/ledger.db}"
  t0=$(python3 -c 'import time; print(time.monotonic())')
  env BACKLINE_DATA_DIR="$dir" BACKLINE_LOG=error ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" ledger seal >/dev/null
  seal_s=$(python3 -c "import sys,time; print(time.monotonic() - float(sys.argv[1]))" "$t0")
  v=$(env BACKLINE_DATA_DIR="$dir" BACKLINE_LOG=error ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" --json ledger verify)
  python3 - "$v" "$seal_s" "$store" <<'PY'
import json, sys
v, seal_s, store = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
assert v["ok"], v
n, ms = v["events"], max(v["duration_ms"], 1)
print("%-9s %10d %12.0f %16.0f" % (store, n, n / seal_s, n / ms * 1000))
PY
  [ -n "$db" ] && psql "$PGURL/postgres" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
done
echo "(verify: the events of 1000 appends multiplied by SQL to about $VERIFY_EVENTS; seal ev/s includes start-up)"
