#!/usr/bin/env bash
# A big ledger stays fast: grow a ledger to ~500k events, then measure `backline replay`
# (events/s, SQLite and PostgreSQL, against a raw read of the same events), start-up on the
# whole backlog (to /healthz and to ready), and p50/p99 of every list route at 100/300/500
# requests/s with `hey` (against /healthz at the same rates, the server's floor). See
# bench/README.md.
#
#   apt-get install -y hey sqlite3 postgresql-client
#   cargo build --release -p backline-api && bench/ledger_scale.sh
#   BACKLINE_BIN=target/debug/backline BENCH_COPIES=50 bench/ledger_scale.sh   # quick
#
# How the ledger grows (documented SQL duplication of real events): a server registers
# BENCH_DATABASES databases (default 300) that all point at one real PostgreSQL database and
# takes one real backup, whose two events (BackupStarted, BackupCompleted) are then copied
# BENCH_COPIES times (default 833) per database by SQL, each copy a new backup aggregate
# (`<real id>-<database>-<copy>`) of that database (`database_id`/`database_name` set in the
# payload), in copy order, through the ledger's own insert trigger (positions in order). 300 x
# 833 x 2 = 499,800 copied events, 250k versions: a few hundred databases backed up hourly for
# a year. The copies are not sealed (sealing is off in this bench).
set -euo pipefail

BIN=${BACKLINE_BIN:-${CARGO_TARGET_DIR:-target}/release/backline}
DATABASES=${BENCH_DATABASES:-300}
COPIES=${BENCH_COPIES:-833}
RATES=${BENCH_RATES:-100 300 500}
SECONDS_PER_POINT=${BENCH_SECONDS:-5}
STORES=${BENCH_STORES:-sqlite postgres}
PGURL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
TOKEN=bench-admin-token-0123456789abcdef

[ -x "$BIN" ] || { echo "no $BIN: cargo build --release -p backline-api (or set BACKLINE_BIN)" >&2; exit 1; }
for t in hey sqlite3 psql curl python3; do
  command -v "$t" >/dev/null || { echo "$t is needed: apt-get install -y hey sqlite3 postgresql-client curl" >&2; exit 1; }
done

WORK=$(mktemp -d)
PID=""
DROP=()
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  for d in "${DROP[@]:-}"; do
    [ -n "$d" ] && psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { python3 -c 'import time; print(time.monotonic())'; }
since() { python3 -c "import sys,time; print('%.2f' % (time.monotonic() - float(sys.argv[1])))" "$1"; }

SRC="bench_scale_src_$$"
psql "$PGURL/postgres" -qc "CREATE DATABASE $SRC" >/dev/null
DROP+=("$SRC")
psql "$PGURL/$SRC" -qc "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g" >/dev/null

# serve <data dir> <ledger url or ""> <port>: starts the server in the background (PID).
serve() {
  env BACKLINE_DATA_DIR="$1" BACKLINE_LISTEN="127.0.0.1:$3" BACKLINE_ADMIN_TOKEN=$TOKEN \
    BACKLINE_SEAL_INTERVAL_SECS=0 BACKLINE_SCHEDULER=false BACKLINE_LOG=warn \
    ${2:+BACKLINE_LEDGER_URL=$2} "$BIN" serve >>"$1/server.log" 2>&1 &
  PID=$!
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
# wait_url <url> [seconds]: until it answers 2xx (default 30 s).
wait_url() {
  for _ in $(seq $(( ${2:-30} * 20 ))); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done
  echo "$1 did not answer" >&2; return 1
}
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

# sql <store> <ledger> <statement>: runs SQL on the ledger's database.
sql() {
  if [ "$1" = sqlite ]; then sqlite3 -batch "$2" "$3"; else psql "$2" -qAtc "$3"; fi
}

# grow <store> <dir> <ledger url> <sql target>: the real events, then their copies.
grow() {
  local store=$1 dir=$2 url=$3 target=$4 port base id backup first=""
  port=$(free_port); base="http://127.0.0.1:$port"
  serve "$dir" "$url" "$port"; wait_url "$base/healthz"
  for i in $(seq "$DATABASES"); do
    id=$(api -X POST "$base/api/v1/databases" \
      -d "{\"name\":\"scale$i\",\"engine\":\"postgres\",\"connection\":\"$PGURL/$SRC\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    if [ "$i" = 1 ]; then first=$id; fi
  done
  backup=$(api -X POST "$base/api/v1/databases/$first/backups?wait=true" |
    python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["status"]=="completed", b; print(b["id"])')
  stop
  if [ "$store" = sqlite ]; then
    sql sqlite "$target" "
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $COPIES),
      d AS (SELECT id, name, ROW_NUMBER() OVER (ORDER BY name) AS k FROM rm_databases)
      INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
      SELECT e.aggregate_type, e.aggregate_id || '-' || d.k || '-' || n.i, e.sequence, e.event_type, e.event_version,
             CASE WHEN e.event_type = 'BackupStarted'
               THEN json_set(e.payload, '\$.BackupStarted.database_id', d.id, '\$.BackupStarted.database_name', d.name)
               ELSE e.payload END,
             e.metadata
      FROM n CROSS JOIN d CROSS JOIN events e
      WHERE e.aggregate_id = '$backup'
      ORDER BY n.i, d.k, e.sequence;"
  else
    sql postgres "$target" "
      INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
      SELECT e.aggregate_type, e.aggregate_id || '-' || d.k || '-' || n.i, e.sequence, e.event_type, e.event_version,
             CASE WHEN e.event_type = 'BackupStarted'
               THEN jsonb_set(jsonb_set(e.payload::jsonb, '{BackupStarted,database_id}', to_jsonb(d.id)),
                              '{BackupStarted,database_name}', to_jsonb(d.name))::json
               ELSE e.payload END,
             e.metadata
      FROM generate_series(1, $COPIES) n(i)
      CROSS JOIN (SELECT id, name, ROW_NUMBER() OVER (ORDER BY name) AS k FROM rm_databases) d
      CROSS JOIN events e
      WHERE e.aggregate_id = '$backup'
      ORDER BY n.i, d.k, e.sequence;"
  fi
}

# raw_read <store> <sql target>: seconds to read every event's payload and metadata in position order.
raw_read() {
  local t0
  t0=$(now)
  if [ "$1" = sqlite ]; then
    sqlite3 -batch "$2" "SELECT position, payload, metadata FROM events ORDER BY position" >/dev/null
  else
    psql "$2" -qAtc "COPY (SELECT position, payload, metadata FROM events ORDER BY position) TO STDOUT" >/dev/null
  fi
  since "$t0"
}

# hey_point <url> <rate>: "p50_ms p99_ms errors" over SECONDS_PER_POINT at <rate> requests/s.
hey_point() {
  local c=$(( $2 / 10 )) out
  [ "$c" -lt 1 ] && c=1
  out=$(hey -z "${SECONDS_PER_POINT}s" -c "$c" -q 10 -H "Authorization: Bearer $TOKEN" "$1")
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def pct(p):
    m = re.search(r"\s%d%%+ in ([0-9.]+) secs" % p, out)
    return float(m.group(1)) * 1000 if m else float("nan")
codes = dict((int(c), int(n)) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
bad = sum(n for c, n in codes.items() if c != 200) + len(re.findall(r"Error distribution", out))
print("%.1f %.1f %d" % (pct(50), pct(99), bad))
PY
}

# list_routes <base url>: p50/p99 of every list route at each rate.
list_routes() {
  local base=$1 first deep route shown r p50 p99 bad
  first=$(api "$base/api/v1/databases" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  # A cursor 100 pages of 1,000 deep (100k versions in).
  deep=$(python3 - "$base" "$TOKEN" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
cursor = None
for _ in range(100):
    url = base + "/api/v1/backups?limit=1000" + ("&cursor=" + cursor if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    page = json.load(urllib.request.urlopen(req))
    cursor = page["next"] or cursor
print(cursor)
PY
)
  local routes=(
    "/healthz"
    "/api/v1/backups?limit=100"
    "/api/v1/backups?limit=100&cursor=$deep"
    "/api/v1/backups?status=completed&limit=100"
    "/api/v1/databases/$first/backups?limit=100"
    "/api/v1/backups?database_id=$first&limit=100"
    "/api/v1/restores?limit=100"
    "/api/v1/alerts?limit=100"
    "/api/v1/events?order=desc&limit=100"
    "/api/v1/events?type=BackupFailed&limit=100"
    "/api/v1/events?database_id=$first&order=desc&limit=100"
    "/api/v1/databases"
    "/metrics"
  )
  printf '\n== list routes on the SQLite ledger (%s s per point; p50/p99 ms (non-200s)) ==\n' "$SECONDS_PER_POINT"
  printf '%-56s' route; for r in $RATES; do printf ' %20s' "$r rps"; done; echo
  for route in "${routes[@]}"; do
    shown=${route//$first/<db>}; shown=${shown//$deep/<100k deep>}
    printf '%-56s' "$shown"
    for r in $RATES; do
      read -r p50 p99 bad <<<"$(hey_point "$base$route" "$r")"
      printf ' %20s' "$p50/$p99 ($bad)"
    done
    echo
  done
}

printf '\n== replay and start-up (%s databases x %s copies x 2 events) ==\n' "$DATABASES" "$COPIES"
printf '%-9s %8s %12s %14s %8s %10s %10s\n' store events "replay ev/s" "raw read ev/s" ratio "healthz s" "ready s"
for store in $STORES; do
  dir=$(mktemp -d -p "$WORK")
  if [ "$store" = sqlite ]; then
    url=""; target="$dir/ledger.db"
  else
    db="bench_scale_$$_$RANDOM"; psql "$PGURL/postgres" -qc "CREATE DATABASE $db" >/dev/null
    DROP+=("$db"); url="$PGURL/$db"; target="$url"
  fi
  grow "$store" "$dir" "$url" "$target"
  events=$(sql "$store" "$target" "SELECT COUNT(*) FROM events")
  raw=$(raw_read "$store" "$target")
  replay=$(env BACKLINE_DATA_DIR="$dir" BACKLINE_LOG=error ${url:+BACKLINE_LEDGER_URL=$url} "$BIN" --json replay)
  rate=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["events_per_second"])' "$replay")
  rawrate=$(python3 -c "print('%.0f' % ($events / max(float('$raw'), 1e-3)))")
  # Start-up on the whole backlog: read models emptied and their checkpoints at 0.
  for t in rm_timeline rm_databases rm_backups rm_restores rm_alerts rm_channels rm_servers rm_users rm_tokens rm_metrics; do
    sql "$store" "$target" "DELETE FROM $t" >/dev/null
  done
  sql "$store" "$target" "UPDATE rm_checkpoints SET position = 0" >/dev/null
  port=$(free_port); base="http://127.0.0.1:$port"
  t0=$(now); serve "$dir" "$url" "$port"
  wait_url "$base/healthz"; healthz=$(since "$t0")
  wait_url "$base/readyz" 1800; ready=$(since "$t0")
  printf '%-9s %8s %12s %14s %8s %10s %10s\n' "$store" "$events" "$rate" "$rawrate" \
    "$(python3 -c "print('%.3f' % (float('$rate') / max(float('$rawrate'), 1)))")" "$healthz" "$ready"
  if [ "$store" = sqlite ]; then list_routes "$base" >"$WORK/routes.txt"; fi
  stop
done
if [ -s "$WORK/routes.txt" ]; then cat "$WORK/routes.txt"; fi
echo "(binary $BIN; $(nproc) cores; hey $(dpkg-query -W -f '${Version}' hey 2>/dev/null || echo '?'))"
