#!/usr/bin/env bash
# Backline backup throughput benchmark: Backline's `backup` CLI against the raw
# `dump | zstd -1` pipeline, on the same ~1 GB database of mixed data, for
# PostgreSQL and MariaDB. See bench/README.md.
#
# usage: bench/backup_throughput.sh [--drop] [--raw-only] [--generate-only] [--help]
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/backup_throughput.sh [options]

  --drop           drop the generated backline_bench databases at the end
                   (default: keep them, they are expensive to build)
  --raw-only       measure only the raw dump|zstd pipelines (no backline binary needed)
  --generate-only  only build (or verify) the benchmark databases, then exit
  -h, --help       this text

environment:
  BENCH_SIZE_MB    target database size in MiB (default 1024; e.g. 50 for a smoke run)
  BENCH_DB         database name on both servers (default backline_bench)
  BENCH_ENGINES    engines to run (default "postgres mysql")
  BENCH_RUNS       measurements per variant, median reported (default 3)
  BENCH_KEEP       1 = keep the generated databases (default 1; --drop sets 0)
  BENCH_WORK       work directory (default: new mktemp dir under /var/tmp, removed at exit)
  BENCH_KEEP_WORK  1 = keep BENCH_WORK (default 0 if BENCH_WORK is generated)
  BACKLINE_BIN     backline binary (default ${CARGO_TARGET_DIR:-<repo>/target}/release/backline)
  BENCH_PARALLEL   1 = also the parallel-backup case on PostgreSQL (default 1 when postgres runs)
  BENCH_PAR_JOBS   backup_jobs of that case (default 2)
  BENCH_PG_HOST / BENCH_PG_PORT / BENCH_PG_USER   default 127.0.0.1 / 5432 / postgres (trust auth)
  BENCH_MY_HOST / BENCH_MY_PORT / BENCH_MY_USER   default 127.0.0.1 / 3306 / root (empty password)
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)

BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_ENGINES=${BENCH_ENGINES:-"postgres mysql"}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_KEEP=${BENCH_KEEP:-1}
BENCH_PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
BENCH_PG_PORT=${BENCH_PG_PORT:-5432}
BENCH_PG_USER=${BENCH_PG_USER:-postgres}
BENCH_MY_HOST=${BENCH_MY_HOST:-127.0.0.1}
BENCH_MY_PORT=${BENCH_MY_PORT:-3306}
BENCH_MY_USER=${BENCH_MY_USER:-root}
BACKLINE_BIN=${BACKLINE_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/backline}
DB=${BENCH_DB:-backline_bench}
# the parallel case: its own database of 4 tables of about the same size
DB_PAR=${DB}_par
BENCH_PARALLEL=${BENCH_PARALLEL:-1}
BENCH_PAR_JOBS=${BENCH_PAR_JOBS:-2}
ADMIN_TOKEN=bench-admin-token-0123456789abcdef

# targets: backline / raw
TARGET_WALL=1.10
TARGET_CPU=1.12
TARGET_RSS_MIB=100

RAW_ONLY=0
GENERATE_ONLY=0
for arg in "$@"; do
  case $arg in
    --drop) BENCH_KEEP=0 ;;
    --raw-only) RAW_ONLY=1 ;;
    --generate-only) GENERATE_ONLY=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# preflight
# ---------------------------------------------------------------------------
if ! [[ $BENCH_SIZE_MB =~ ^[0-9]+$ ]] || ((BENCH_SIZE_MB < 10)); then
  die "BENCH_SIZE_MB must be an integer >= 10 (got '$BENCH_SIZE_MB')"
fi
if ! [[ $BENCH_RUNS =~ ^[0-9]+$ ]] || ((BENCH_RUNS < 1)); then
  die "BENCH_RUNS must be an integer >= 1 (got '$BENCH_RUNS')"
fi
read -r -a ENGINES <<<"$BENCH_ENGINES"
((${#ENGINES[@]} > 0)) || die "BENCH_ENGINES is empty"
PARALLEL=0
for e in "${ENGINES[@]}"; do
  case $e in postgres | mysql) ;; *) die "unknown engine '$e' in BENCH_ENGINES (postgres, mysql)" ;; esac
  if [[ $e == postgres && $BENCH_PARALLEL == 1 ]]; then PARALLEL=1; fi
done
if ! [[ $BENCH_PAR_JOBS =~ ^[0-9]+$ ]] || ((BENCH_PAR_JOBS < 2 || BENCH_PAR_JOBS > 16)); then
  die "BENCH_PAR_JOBS must be an integer in 2..16 (got '$BENCH_PAR_JOBS')"
fi

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }
need zstd "apt-get install -y zstd"
need awk "apt-get install -y gawk"
[[ -x /usr/bin/time ]] || die "GNU time not found at /usr/bin/time: apt-get install -y time"
/usr/bin/time -f '%e' true 2>/dev/null || die "/usr/bin/time is not GNU time (needs -f): apt-get install -y time"
for e in "${ENGINES[@]}"; do
  if [[ $e == postgres ]]; then
    need psql "apt-get install -y postgresql-client"
    need pg_dump "apt-get install -y postgresql-client"
  else
    need mariadb "apt-get install -y mariadb-client"
    need mariadb-dump "apt-get install -y mariadb-client"
  fi
done
if ((RAW_ONLY == 0 && GENERATE_ONLY == 0)); then
  need curl "apt-get install -y curl"
  [[ -x $BACKLINE_BIN ]] || die "backline binary not found or not executable: $BACKLINE_BIN
  build it with:   cargo build --release -p backline-api
  or point BACKLINE_BIN at it, or run with --raw-only to measure the raw pipelines alone"
  case $BACKLINE_BIN in
    */debug/*) log "WARNING: $BACKLINE_BIN looks like a debug build: the figures are not meaningful" ;;
  esac
fi

psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" -U "$BENCH_PG_USER" "$@"; }
my_q() { mariadb -h "$BENCH_MY_HOST" -P "$BENCH_MY_PORT" -u "$BENCH_MY_USER" "$@"; }

for e in "${ENGINES[@]}"; do
  if [[ $e == postgres ]]; then
    psql_q -d postgres -Atc 'select 1' >/dev/null || die "cannot connect to PostgreSQL at $BENCH_PG_HOST:$BENCH_PG_PORT as $BENCH_PG_USER"
  else
    my_q -N -e 'select 1' >/dev/null || die "cannot connect to MariaDB at $BENCH_MY_HOST:$BENCH_MY_PORT as $BENCH_MY_USER"
  fi
done

# ---------------------------------------------------------------------------
# work dir, cleanup
# ---------------------------------------------------------------------------
if [[ -n ${BENCH_WORK:-} ]]; then
  WORK=$BENCH_WORK
  BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-1}
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /var/tmp/backline-bench.XXXXXX)
  BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
fi
mkdir -p "$WORK/logs"
SERVER_PID=
GEN_PIDS=()

# (drop_databases and cleanup are only reached through the EXIT trap)
# shellcheck disable=SC2317
drop_databases() {
  local e
  for e in "${ENGINES[@]}"; do
    if [[ $e == postgres ]]; then
      log "dropping PostgreSQL databases $DB, $DB_PAR"
      psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
      psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB_PAR WITH (FORCE)" || true
    else
      log "dropping MariaDB database $DB"
      my_q -e "DROP DATABASE IF EXISTS $DB" || true
    fi
  done
}

# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  set +e # best effort from here on; stderr may be a closed pipe
  trap - EXIT
  trap '' INT TERM HUP PIPE
  local p
  for p in "${GEN_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $BENCH_KEEP == 0 ]]; then drop_databases; fi
  if [[ $BENCH_KEEP_WORK == 1 ]]; then
    log "work directory kept: $WORK"
  elif ((rc != 0)); then
    log "failed: work directory kept for inspection (logs in $WORK/logs): $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# ---------------------------------------------------------------------------
# data generation
# ---------------------------------------------------------------------------
# scale 1.0 = one load unit of ~10-13 MiB; smaller units for small targets so
# the size lands close to the target
SCALE=$(awk -v t="$BENCH_SIZE_MB" 'BEGIN { s = t / 200; if (s > 1) s = 1; if (s < 0.05) s = 0.05; printf "%.3f", s }')
UNIT_MB=$(awk -v s="$SCALE" 'BEGIN { printf "%d", s * 12 + 0.5 }')

marker_for() { # engine
  local f=$BENCH_DIR/gen_pg.sql
  [[ $1 == mysql ]] && f=$BENCH_DIR/gen_mysql.sql
  printf 'gen=%s;size_mb=%s' "$(md5sum "$f" | cut -c1-12)" "$BENCH_SIZE_MB"
}

pg_size_mb() { psql_q -d postgres -Atc "SELECT pg_database_size('$DB') / 1048576"; }
my_size_mb() {
  my_q -N -B "$DB" -e "ANALYZE TABLE customers, orders, events, documents, attachments, metrics" >/dev/null
  my_q -N -B -e "SELECT COALESCE(FLOOR(SUM(data_length + index_length) / 1048576), 0)
                 FROM information_schema.tables WHERE table_schema = '$DB'"
}
my_disk_mb() {
  my_q -N -B -e "SELECT COALESCE(FLOOR(SUM(file_size) / 1048576), 0)
                 FROM information_schema.innodb_sys_tablespaces WHERE name LIKE '$DB/%'"
}

# run a worker loop: add units until the size (minus one unit of slack, two
# workers overshoot) reaches the target
gen_worker() { # engine worker_no
  local engine=$1 cur
  while :; do
    if [[ $engine == postgres ]]; then cur=$(pg_size_mb); else cur=$(my_size_mb); fi
    ((cur + UNIT_MB >= BENCH_SIZE_MB)) && break
    if [[ $engine == postgres ]]; then
      psql_q -d "$DB" -c "CALL bench_gen.unit($SCALE)" >/dev/null
    else
      my_q "$DB" -e "CALL bench_unit($SCALE)"
    fi
  done
}

run_workers() { # engine
  local rc=0 p
  GEN_PIDS=()
  gen_worker "$1" 1 >"$WORK/logs/gen-$1-1.log" 2>&1 &
  GEN_PIDS+=($!)
  gen_worker "$1" 2 >"$WORK/logs/gen-$1-2.log" 2>&1 &
  GEN_PIDS+=($!)
  for p in "${GEN_PIDS[@]}"; do wait "$p" || rc=1; done
  GEN_PIDS=()
  if ((rc != 0)); then
    tail -n 20 "$WORK/logs/gen-$1-"*.log >&2 || true
    die "data generation for $1 failed (logs above)"
  fi
}

ensure_pg() {
  local marker cur t0
  marker=$(marker_for postgres)
  if [[ $(psql_q -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'") == 1 ]]; then
    cur=$(psql_q -d "$DB" -Atc "SELECT value FROM backline_bench_meta WHERE key = 'marker'" 2>/dev/null || true)
    if [[ $cur == "$marker" ]]; then
      log "postgres: $DB already built ($marker, $(pg_size_mb) MiB), skipping generation"
      return
    fi
    log "postgres: $DB exists with marker '${cur:-none}', want '$marker': rebuilding"
    psql_q -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
  fi
  t0=$SECONDS
  log "postgres: generating ~$BENCH_SIZE_MB MiB in $DB (units of scale $SCALE, 2 sessions)"
  psql_q -d postgres -c "CREATE DATABASE $DB"
  psql_q -d "$DB" -f "$BENCH_DIR/gen_pg.sql" >/dev/null
  run_workers postgres
  log "postgres: load done after $((SECONDS - t0)) s ($(pg_size_mb) MiB), finalizing"
  psql_q -d "$DB" -c "CALL bench_gen.finalize('$marker')" -c "DROP SCHEMA bench_gen CASCADE" >/dev/null
  psql_q -d "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
  log "postgres: $DB built in $((SECONDS - t0)) s, pg_database_size = $(pg_size_mb) MiB"
  echo "$((SECONDS - t0))" >"$WORK/gen-postgres.secs"
}

ensure_mysql() {
  local marker cur t0
  marker=$(marker_for mysql)
  if [[ -n $(my_q -N -B -e "SHOW DATABASES LIKE '$DB'") ]]; then
    cur=$(my_q -N -B "$DB" -e "SELECT value FROM backline_bench_meta WHERE \`key\` = 'marker'" 2>/dev/null || true)
    if [[ $cur == "$marker" ]]; then
      log "mysql: $DB already built ($marker, $(my_size_mb) MiB), skipping generation"
      return
    fi
    log "mysql: $DB exists with marker '${cur:-none}', want '$marker': rebuilding"
    my_q -e "DROP DATABASE $DB"
  fi
  t0=$SECONDS
  log "mysql: generating ~$BENCH_SIZE_MB MiB in $DB (units of scale $SCALE, 2 sessions)"
  my_q -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  my_q "$DB" <"$BENCH_DIR/gen_mysql.sql"
  run_workers mysql
  log "mysql: load done after $((SECONDS - t0)) s ($(my_size_mb) MiB), finalizing"
  my_q "$DB" -e "CALL bench_finalize('$marker');
                 DROP PROCEDURE bench_unit; DROP PROCEDURE bench_txt; DROP PROCEDURE bench_finalize;
                 DROP TABLE _bench_vocabulary;"
  log "mysql: $DB built in $((SECONDS - t0)) s, data+index = $(my_size_mb) MiB (on disk $(my_disk_mb) MiB)"
  echo "$((SECONDS - t0))" >"$WORK/gen-mysql.secs"
}

# The parallel case: 4 tables of the same shape and row count (so about the same size),
# mixed text (md5 words, partly repeated), numbers, timestamps and jsonb, with an index each.
ensure_pg_par() {
  local marker cur t0 rows i
  marker="par=1;size_mb=$BENCH_SIZE_MB"
  if [[ $(psql_q -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB_PAR'") == 1 ]]; then
    cur=$(psql_q -d "$DB_PAR" -Atc "SELECT value FROM backline_bench_meta WHERE key = 'marker'" 2>/dev/null || true)
    if [[ $cur == "$marker" ]]; then
      log "postgres: $DB_PAR already built ($marker, $(psql_q -d postgres -Atc "SELECT pg_database_size('$DB_PAR') / 1048576") MiB), skipping generation"
      return
    fi
    psql_q -d postgres -c "DROP DATABASE $DB_PAR WITH (FORCE)"
  fi
  t0=$SECONDS
  # ~330 bytes a row with its index entry
  rows=$((BENCH_SIZE_MB * 1048576 / 4 / 330))
  log "postgres: generating $DB_PAR: 4 tables of $rows rows (~$((BENCH_SIZE_MB / 4)) MiB each)"
  psql_q -d postgres -c "CREATE DATABASE $DB_PAR"
  psql_q -d "$DB_PAR" -c "CREATE TABLE backline_bench_meta (key text PRIMARY KEY, value text)"
  for i in 1 2 3 4; do
    psql_q -d "$DB_PAR" -c "CREATE TABLE part_$i (id bigint PRIMARY KEY, n int, amount numeric(12,2),
        at timestamptz, label text, body text, doc jsonb)" \
      -c "INSERT INTO part_$i SELECT g, (random() * 1e6)::int, round((random() * 1e5)::numeric, 2),
        now() - random() * interval '900 days', md5(g::text || '$i'),
        md5(random()::text) || ' ' || repeat(md5((g % 997)::text), 2) || ' ' || md5(random()::text),
        jsonb_build_object('k', g % 31, 'v', md5(random()::text), 'ok', random() < 0.5)
        FROM generate_series(1, $rows) g" \
      -c "CREATE INDEX ON part_$i (n)" >/dev/null &
    GEN_PIDS+=($!)
  done
  for i in "${GEN_PIDS[@]}"; do wait "$i" || die "generating $DB_PAR failed"; done
  GEN_PIDS=()
  psql_q -d "$DB_PAR" -c "INSERT INTO backline_bench_meta VALUES ('marker', '$marker')" -c "VACUUM ANALYZE" >/dev/null
  log "postgres: $DB_PAR built in $((SECONDS - t0)) s, $(psql_q -d postgres -Atc "SELECT pg_database_size('$DB_PAR') / 1048576") MiB"
}

for e in "${ENGINES[@]}"; do
  if [[ $e == postgres ]]; then ensure_pg; else ensure_mysql; fi
done
if ((PARALLEL == 1)); then ensure_pg_par; fi
if ((GENERATE_ONLY == 1)); then
  log "--generate-only: done"
  exit 0
fi

# ---------------------------------------------------------------------------
# backline server: register the databases, then stop it
# ---------------------------------------------------------------------------
free_port() {
  local p _
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

backline_name() {
  case $1 in
    postgres) echo bench_pg ;;
    mysql) echo bench_mysql ;;
    par) echo bench_pg_par ;;   # the parallel case: backup_jobs=BENCH_PAR_JOBS
    par1) echo bench_pg_par1 ;; # the same database, one stream
  esac
}

registration() { # engine|par|par1 -> the POST /api/v1/databases body
  local url="postgres://$BENCH_PG_USER@$BENCH_PG_HOST:$BENCH_PG_PORT/$DB_PAR"
  case $1 in
    par) printf '{"name":"%s","engine":"postgres","connection":"%s","backup_jobs":%d}' "$(backline_name par)" "$url" "$BENCH_PAR_JOBS" ;;
    par1) printf '{"name":"%s","engine":"postgres","connection":"%s"}' "$(backline_name par1)" "$url" ;;
    *) printf '{"name":"%s","engine":"%s","connection":"%s"}' "$(backline_name "$1")" "$1" "$(backline_url "$1")" ;;
  esac
}
backline_url() {
  if [[ $1 == postgres ]]; then
    echo "postgres://$BENCH_PG_USER@$BENCH_PG_HOST:$BENCH_PG_PORT/$DB"
  else
    echo "mysql://$BENCH_MY_USER@$BENCH_MY_HOST:$BENCH_MY_PORT/$DB"
  fi
}

register_databases() {
  local port base i code e body
  port=$(free_port) || die "no free TCP port found"
  base="http://127.0.0.1:$port"
  mkdir -p "$WORK/data"
  log "starting backline serve on 127.0.0.1:$port (BACKLINE_DATA_DIR=$WORK/data)"
  BACKLINE_DATA_DIR="$WORK/data" BACKLINE_LISTEN="127.0.0.1:$port" BACKLINE_ADMIN_TOKEN="$ADMIN_TOKEN" \
    "$BACKLINE_BIN" serve >"$WORK/logs/server.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 120); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      tail -n 30 "$WORK/logs/server.log" >&2 || true
      SERVER_PID=
      die "backline serve exited before /healthz answered (server log above)"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true)
    [[ $code == 200 ]] && break
    ((i == 120)) && die "backline serve: GET /healthz did not return 200 within 60 s (last: $code)"
    sleep 0.5
  done
  local regs=("${ENGINES[@]}")
  if ((PARALLEL == 1)); then regs+=(par par1); fi
  for e in "${regs[@]}"; do
    body=$(registration "$e")
    code=$(curl -s -o "$WORK/logs/register-$e.json" -w '%{http_code}' -X POST \
      -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
      -d "$body" "$base/api/v1/databases" || true)
    case $code in
      201) log "registered $(backline_name "$e"): $(cat "$WORK/logs/register-$e.json")" ;;
      409) log "$(backline_name "$e") already registered (409)" ;;
      *)
        { cat "$WORK/logs/register-$e.json"; echo; } >&2 || true
        die "POST /api/v1/databases for $(backline_name "$e") returned HTTP $code (expected 201)"
        ;;
    esac
    grep -q '"id"' "$WORK/logs/register-$e.json" 2>/dev/null ||
      [[ $code == 409 ]] || die "registration response for $(backline_name "$e") has no \"id\""
  done
  log "stopping backline serve"
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

if ((RAW_ONLY == 0)); then register_databases; fi

# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
# result files: $WORK/res/<engine>.<variant>  lines "wall cpu rss_kib bytes"
mkdir -p "$WORK/res"

raw_pipeline() { # engine -> prints the bash -c pipeline text
  if [[ $1 == postgres ]]; then
    printf 'set -o pipefail; pg_dump -Fc -Z0 -h %q -p %q -U %q %q | zstd -1 -T0 -q > %q' \
      "$BENCH_PG_HOST" "$BENCH_PG_PORT" "$BENCH_PG_USER" "$DB" "$WORK/raw.pgdump.zst"
  else
    printf 'set -o pipefail; mariadb-dump --single-transaction --quick --routines --triggers --events --hex-blob -h %q -P %q -u %q %q | zstd -1 -T0 -q > %q' \
      "$BENCH_MY_HOST" "$BENCH_MY_PORT" "$BENCH_MY_USER" "$DB" "$WORK/raw.sql.zst"
  fi
}
raw_out() { if [[ $1 == postgres ]]; then echo "$WORK/raw.pgdump.zst"; else echo "$WORK/raw.sql.zst"; fi; }

# timed <tag> <cmd...>: runs under GNU time, prints "wall cpu rss_kib"
timed() {
  local tag=$1 tf
  shift
  tf="$WORK/logs/$tag.time"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$WORK/logs/$tag.log" 2>&1; then
    tail -n 30 "$WORK/logs/$tag.log" >&2 || true
    [[ -s $tf ]] && cat "$tf" >&2
    die "$tag failed (output above; full log $WORK/logs/$tag.log)"
  fi
  # GNU time may prefix "Command exited..." lines; the figures are the last line
  tail -n 1 "$tf" | awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }'
}

fmt_fig() { awk '{ printf "wall %.2f s, cpu %.2f s, peak rss %.1f MiB,", $1, $2, $3 / 1024 }' <<<"$1"; }

sum_new_files() { # dir stampfile
  [[ -d $1 ]] || { echo 0; return; }
  find "$1" -type f -newer "$2" -printf '%s\n' | awk '{ s += $1 } END { printf "%d\n", s }'
}

measure_raw() { # engine run
  local out fig bytes
  out=$(raw_out "$1")
  rm -f "$out"
  fig=$(timed "raw-$1-$2" bash -c "$(raw_pipeline "$1")")
  bytes=$(stat -c %s "$out")
  echo "$fig $bytes" >>"$WORK/res/$1.raw"
  log "  run $2 raw      $1: $(fmt_fig "$fig") stored $bytes B"
}

measure_backline() { # engine run
  local stamp fig bytes
  stamp="$WORK/logs/stamp-$1-$2"
  touch "$stamp"
  sleep 0.01
  fig=$(timed "backline-$1-$2" env BACKLINE_DATA_DIR="$WORK/data" "$BACKLINE_BIN" backup --database "$(backline_name "$1")")
  bytes=$(sum_new_files "$WORK/data/artifacts" "$stamp")
  if [[ $bytes == 0 ]]; then
    log "  WARNING: backline backup exited 0 but no new file appeared under $WORK/data/artifacts"
  fi
  echo "$fig $bytes" >>"$WORK/res/$1.backline"
  log "  run $2 backline $1: $(fmt_fig "$fig") stored $bytes B"
}

for e in "${ENGINES[@]}"; do
  rm -f "$WORK/res/$e.raw" "$WORK/res/$e.backline"
  log "measuring $e: $BENCH_RUNS run(s), alternating raw / backline, median reported"
  for r in $(seq 1 "$BENCH_RUNS"); do
    measure_raw "$e" "$r"
    if ((RAW_ONLY == 0)); then measure_backline "$e" "$r"; fi
  done
done

# The parallel case: the single-stream raw pipeline on $DB_PAR against backline with
# backup_jobs=BENCH_PAR_JOBS (and backline with one stream, for reference).
measure_par() { # variant run
  local fig bytes stamp out=$WORK/raw-par.pgdump.zst
  case $1 in
    raw)
      rm -f "$out"
      fig=$(timed "par-raw-$2" bash -c "$(printf 'set -o pipefail; pg_dump -Fc -Z0 -h %q -p %q -U %q %q | zstd -1 -T0 -q > %q' \
        "$BENCH_PG_HOST" "$BENCH_PG_PORT" "$BENCH_PG_USER" "$DB_PAR" "$out")")
      bytes=$(stat -c %s "$out")
      ;;
    *)
      stamp="$WORK/logs/stamp-par-$1-$2"
      touch "$stamp"
      sleep 0.01
      fig=$(timed "par-$1-$2" env BACKLINE_DATA_DIR="$WORK/data" "$BACKLINE_BIN" backup --database "$(backline_name "$1")")
      bytes=$(sum_new_files "$WORK/data/artifacts" "$stamp")
      ;;
  esac
  echo "$fig $bytes" >>"$WORK/res/par.$1"
  log "  run $2 $1 $DB_PAR: $(fmt_fig "$fig") stored $bytes B"
}
if ((PARALLEL == 1)); then
  rm -f "$WORK/res/par.raw" "$WORK/res/par.par" "$WORK/res/par.par1"
  log "measuring the parallel case on $DB_PAR: raw single stream / backline backup_jobs=$BENCH_PAR_JOBS / backline one stream"
  for r in $(seq 1 "$BENCH_RUNS"); do
    measure_par raw "$r"
    if ((RAW_ONLY == 0)); then
      measure_par par "$r"
      measure_par par1 "$r"
    fi
  done
fi

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
median_col() { # file column
  awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%s\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

db_size_mb() {
  if [[ $1 == postgres ]]; then pg_size_mb; else my_size_mb; fi
}

echo
echo "Backline backup throughput — BENCH_SIZE_MB=$BENCH_SIZE_MB, runs=$BENCH_RUNS (median of all runs), $(nproc) CPUs"
echo "backline: $([[ $RAW_ONLY == 1 ]] && echo '(skipped: --raw-only)' || echo "$BACKLINE_BIN (BACKLINE_ZSTD_LEVEL=${BACKLINE_ZSTD_LEVEL:-<default>})")"
echo "CPU = user+sys of the timed process tree; RSS = GNU time %M (largest single process in the tree)"
echo
printf '%-9s %-9s %9s %9s %9s %14s %10s\n' engine variant wall_s cpu_s rss_MiB stored_bytes stored_MiB
for e in "${ENGINES[@]}"; do
  for v in raw backline; do
    f="$WORK/res/$e.$v"
    [[ -s $f ]] || continue
    w=$(median_col "$f" 1); c=$(median_col "$f" 2); m=$(median_col "$f" 3); b=$(median_col "$f" 4)
    printf '%-9s %-9s %9.2f %9.2f %9.1f %14.0f %10.1f\n' "$e" "$v" "$w" "$c" "$(awk -v k="$m" 'BEGIN { print k / 1024 }')" "$b" \
      "$(awk -v b="$b" 'BEGIN { print b / 1048576 }')"
  done
done

echo
for e in "${ENGINES[@]}"; do
  raw_bytes=$(median_col "$WORK/res/$e.raw" 4)
  dump_bytes=$(zstd -dc -q "$(raw_out "$e")" | wc -c)
  printf '%-9s database %s MiB; raw dump %.1f MiB -> zstd -1 %.1f MiB (%.2fx)\n' "$e" "$(db_size_mb "$e")" \
    "$(awk -v b="$dump_bytes" 'BEGIN { print b / 1048576 }')" "$(awk -v b="$raw_bytes" 'BEGIN { print b / 1048576 }')" \
    "$(awk -v a="$dump_bytes" -v b="$raw_bytes" 'BEGIN { print (b > 0 ? a / b : 0) }')"
  if [[ -s $WORK/res/$e.backline ]]; then
    bl_bytes=$(median_col "$WORK/res/$e.backline" 4)
    printf '%-9s backline artifact %.1f MiB (%.3fx the raw .zst)\n' "$e" \
      "$(awk -v b="$bl_bytes" 'BEGIN { print b / 1048576 }')" "$(awk -v a="$bl_bytes" -v b="$raw_bytes" 'BEGIN { print (b > 0 ? a / b : 0) }')"
  fi
done

if ((RAW_ONLY == 0)); then
  echo
  printf '%-9s %-22s %10s %10s  %s\n' engine metric value target result
  for e in "${ENGINES[@]}"; do
    rw=$(median_col "$WORK/res/$e.raw" 1); rc=$(median_col "$WORK/res/$e.raw" 2)
    bw=$(median_col "$WORK/res/$e.backline" 1); bc=$(median_col "$WORK/res/$e.backline" 2)
    bm=$(median_col "$WORK/res/$e.backline" 3)
    awk -v e="$e" -v rw="$rw" -v rc="$rc" -v bw="$bw" -v bc="$bc" -v bm="$bm" \
      -v tw="$TARGET_WALL" -v tc="$TARGET_CPU" -v tm="$TARGET_RSS_MIB" 'BEGIN {
        wr = (rw > 0 ? bw / rw : 0); cr = (rc > 0 ? bc / rc : 0); mm = bm / 1024
        printf "%-9s %-22s %9.3fx %9.2fx  %s\n", e, "wall backline/raw", wr, tw, (wr <= tw ? "PASS" : "MISS")
        printf "%-9s %-22s %9.3fx %9.2fx  %s\n", e, "cpu backline/raw", cr, tc, (cr <= tc ? "PASS" : "MISS")
        printf "%-9s %-22s %6.1f MiB %6d MiB  %s\n", e, "backline peak RSS", mm, tm, (mm <= tm ? "PASS" : "MISS")
      }'
  done
fi

if ((PARALLEL == 1)); then
  echo
  echo "parallel backup: $DB_PAR, 4 tables of about the same size ($(psql_q -d postgres -Atc "SELECT pg_database_size('$DB_PAR') / 1048576") MiB), $(nproc) CPUs"
  printf '%-34s %9s %9s %9s %14s\n' variant wall_s cpu_s rss_MiB stored_bytes
  for v in raw par par1; do
    f="$WORK/res/par.$v"
    [[ -s $f ]] || continue
    case $v in
      raw) label="raw pg_dump | zstd -1 (1 stream)" ;;
      par) label="backline backup_jobs=$BENCH_PAR_JOBS" ;;
      par1) label="backline backup_jobs=1" ;;
    esac
    printf '%-34s %9.2f %9.2f %9.1f %14.0f\n' "$label" "$(median_col "$f" 1)" "$(median_col "$f" 2)" \
      "$(awk -v k="$(median_col "$f" 3)" 'BEGIN { print k / 1024 }')" "$(median_col "$f" 4)"
  done
  if [[ -s $WORK/res/par.par ]]; then
    awk -v rw="$(median_col "$WORK/res/par.raw" 1)" -v pw="$(median_col "$WORK/res/par.par" 1)" \
      -v sw="$(median_col "$WORK/res/par.par1" 1)" -v n="$BENCH_PAR_JOBS" 'BEGIN {
        r = (rw > 0 ? pw / rw : 0); s = (sw > 0 ? pw / sw : 0)
        printf "wall backline(backup_jobs=%d) / raw single stream: %.3fx (%s)\n", n, r, (r < 1 ? "faster than one stream" : "no gain here")
        printf "wall backline(backup_jobs=%d) / backline(backup_jobs=1): %.3fx\n", n, s
      }'
  fi
fi

echo
echo "per-run figures (wall_s cpu_s rss_KiB stored_bytes):"
for e in "${ENGINES[@]}"; do
  for v in raw backline; do
    f="$WORK/res/$e.$v"
    [[ -s $f ]] || continue
    awk -v e="$e" -v v="$v" '{ printf "  %-9s %-9s run %d: %s\n", e, v, NR, $0 }' "$f"
  done
done
for v in raw par par1; do
  f="$WORK/res/par.$v"
  [[ -s $f ]] || continue
  awk -v v="$v" '{ printf "  %-9s %-9s run %d: %s\n", "parallel", v, NR, $0 }' "$f"
done
for e in "${ENGINES[@]}"; do
  [[ -f $WORK/gen-$e.secs ]] && echo "generation time $e: $(cat "$WORK/gen-$e.secs") s"
done
exit 0
