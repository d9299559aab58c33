#!/usr/bin/env bash
# Backline point-in-time restore benchmark: restore one PostgreSQL database as it was after
# BENCH_WRITE_SECONDS of moderate writes following its base backup, through Backline's
# restore-pitr, against doing the same by hand in the same run (unpack the base backup, a
# restore_command reading the archived WAL files, a temporary cluster with recovery_target_time,
# pg_dump | pg_restore into a fresh database). See bench/README.md.
#
# usage: bench/pitr.sh [--help]
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/pitr.sh [options]

  -h, --help       this text

Builds (or reuses) a PostgreSQL benchmark database with bench/backup_throughput.sh
--generate-only, starts `backline serve`, enables WAL archiving for it, takes a base backup,
writes moderately for BENCH_WRITE_SECONDS (inserts and updates, a few transactions a second),
picks that moment as the target, then measures, alternating:
  manual    zstd -dc base.tar.zst | tar -x; restore_command zstd -dc <archived WAL>/%f.zst;
            postgres with recovery_target_time + promote; pg_dump -Fc | pg_restore into a new
            database; stop and remove the temporary cluster
  backline  POST /api/v1/databases/{id}/restore-pitr into a registered target that does not
            exist yet, until GET /api/v1/restores/{id} says completed
Both restored databases must hold exactly the same rows of the written table (checked).
The ratio of backline's median wall time to manual's is checked against 1.20.

environment:
  BENCH_SIZE_MB        database size in MiB (default 1024; e.g. 30 for a quick check)
  BENCH_WRITE_SECONDS  seconds of writes between the base backup and the target (default 600)
  BENCH_RUNS           measurements per variant, median reported (default 3)
  BENCH_WORK           work directory (default: new mktemp dir under /var/tmp, removed at exit)
  BENCH_PG_HOST/PORT/USER  PostgreSQL (trust auth, a replication line in pg_hba.conf)
                       (default 127.0.0.1 / 5432 / postgres)
  BENCH_PG_BIN         server binaries of the server's major (default /usr/lib/postgresql/<major>/bin)
  BACKLINE_BIN         backline binary (default ${CARGO_TARGET_DIR:-<repo>/target}/release/backline)
EOF
}

for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_WRITE_SECONDS=${BENCH_WRITE_SECONDS:-600}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
BENCH_PG_PORT=${BENCH_PG_PORT:-5432}
BENCH_PG_USER=${BENCH_PG_USER:-postgres}
BACKLINE_BIN=${BACKLINE_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/backline}
DB=backline_bench_pitr
TARGET=${DB}_restored
MANUAL=${DB}_manual
ADMIN_TOKEN=bench-admin-token-0123456789abcdef
TARGET_WALL=1.20
SERVER_USER=postgres

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $BENCH_RUNS =~ ^[0-9]+$ ]] && ((BENCH_RUNS >= 1)) || die "BENCH_RUNS must be an integer >= 1"
[[ $BENCH_WRITE_SECONDS =~ ^[0-9]+$ ]] && ((BENCH_WRITE_SECONDS >= 5)) || die "BENCH_WRITE_SECONDS must be an integer >= 5"
for t in zstd curl python3 psql pg_dump pg_restore tar; do
  command -v "$t" >/dev/null || die "$t not found (apt-get install -y zstd curl python3 postgresql-client tar)"
done
[[ -x $BACKLINE_BIN ]] || die "backline binary not found: $BACKLINE_BIN (cargo build --release -p backline-api)"
case $BACKLINE_BIN in */debug/*) log "WARNING: $BACKLINE_BIN looks like a debug build: the figures are not meaningful" ;; esac

psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" -U "$BENCH_PG_USER" "$@"; }
psql_q -d postgres -Atc 'select 1' >/dev/null || die "cannot connect to PostgreSQL at $BENCH_PG_HOST:$BENCH_PG_PORT as $BENCH_PG_USER"
MAJOR=$(psql_q -d postgres -Atc "select current_setting('server_version_num')::int / 10000")
BENCH_PG_BIN=${BENCH_PG_BIN:-/usr/lib/postgresql/$MAJOR/bin}
[[ -x $BENCH_PG_BIN/postgres && -x $BENCH_PG_BIN/pg_ctl ]] || die "no PostgreSQL $MAJOR server binaries in $BENCH_PG_BIN (apt-get install -y postgresql-$MAJOR, or set BENCH_PG_BIN)"

# PostgreSQL refuses to run as root: as root, the hand-made cluster runs as the postgres OS user
# (as Backline's does).
as_server() {
  if (($(id -u) == 0)); then
    setpriv --reuid="$SERVER_USER" --regid="$SERVER_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

if [[ -n ${BENCH_WORK:-} ]]; then
  WORK=$BENCH_WORK
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /var/tmp/backline-pitr-bench.XXXXXX)
fi
# The server user must reach the temporary clusters below it.
chmod 711 "$WORK"
mkdir -p "$WORK/logs" "$WORK/res" "$WORK/data"
# The temporary clusters' Unix sockets must have a path under 108 bytes: a short directory.
PITR_DIR=$(mktemp -d /tmp/blpitr.XXXXXX)
ln -sfn "$PITR_DIR" "$WORK/pitr"
chmod 711 "$PITR_DIR"
(($(id -u) == 0)) && chown "$SERVER_USER:" "$PITR_DIR"
SERVER_PID=
WRITER_PID=
MANUAL_ROOT=

# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  [[ -n $WRITER_PID ]] && kill "$WRITER_PID" 2>/dev/null
  if [[ -n $MANUAL_ROOT && -d $MANUAL_ROOT/data ]]; then
    as_server "$BENCH_PG_BIN/pg_ctl" -D "$MANUAL_ROOT/data" -m immediate stop >/dev/null 2>&1
  fi
  if [[ -n $SERVER_PID ]]; then
    # Disabling archiving drops the replication slot: an abandoned one keeps WAL for ever.
    api DELETE "/api/v1/databases/pitr_src/archiving" >/dev/null 2>&1
    kill "$SERVER_PID"
    wait "$SERVER_PID"
  fi 2>/dev/null
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $TARGET WITH (FORCE)" -c "DROP DATABASE IF EXISTS $MANUAL WITH (FORCE)" 2>/dev/null
  rm -rf "$PITR_DIR"
  if ((rc != 0)); then log "failed: logs kept in $WORK/logs"; elif [[ -z ${BENCH_WORK:-} ]]; then rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

log "building or reusing the benchmark database $DB (bench/backup_throughput.sh --generate-only)"
BENCH_SIZE_MB=$BENCH_SIZE_MB BENCH_ENGINES=postgres BENCH_DB=$DB \
  "$BENCH_DIR/backup_throughput.sh" --generate-only
psql_q -d "$DB" -c "DROP TABLE IF EXISTS bench_pitr_writes, bench_pitr_hot" \
  -c "CREATE TABLE bench_pitr_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL, v text NOT NULL)" \
  -c "CREATE TABLE bench_pitr_hot (id int PRIMARY KEY, n bigint NOT NULL, at timestamptz)" \
  -c "INSERT INTO bench_pitr_hot SELECT g, 0, NULL FROM generate_series(1, 10000) g"

PORT=$((20000 + RANDOM % 40000))
BASE="http://127.0.0.1:$PORT"
api() { # method path [body]: prints the body, then the status on its own last line
  curl -s -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "$BASE$2"
}
status_of() { tail -n 1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
field() { # json-text key
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

BACKLINE_DATA_DIR="$WORK/data" BACKLINE_LISTEN="127.0.0.1:$PORT" BACKLINE_ADMIN_TOKEN="$ADMIN_TOKEN" \
  BACKLINE_PITR_DIR="$PITR_DIR" "$BACKLINE_BIN" serve >"$WORK/logs/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 120); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz" || true) == 200 ]] && break
  ((i == 120)) && die "backline serve did not answer /healthz (log: $WORK/logs/server.log)"
  sleep 0.5
done
url() { echo "postgres://$BENCH_PG_USER@$BENCH_PG_HOST:$BENCH_PG_PORT/$1"; }
psql_q -d postgres -c "DROP DATABASE IF EXISTS $TARGET WITH (FORCE)" -c "CREATE DATABASE $TARGET"
for n in "pitr_src:$DB" "pitr_dst:$TARGET"; do
  r=$(api POST /api/v1/databases "{\"name\":\"${n%%:*}\",\"engine\":\"postgres\",\"connection\":\"$(url "${n#*:}")\"}")
  [[ $(status_of "$r") == 201 ]] || die "registering ${n%%:*} answered $(status_of "$r"): $(body_of "$r")"
done

log "enabling WAL archiving of $DB's server"
r=$(api POST /api/v1/databases/pitr_src/archiving '{}')
[[ $(status_of "$r") == 200 ]] || die "enabling archiving answered $(status_of "$r"): $(body_of "$r")"
log "  slot $(field "$(body_of "$r")" slot), archive $(field "$(body_of "$r")" archive_id)"

wait_done() { # path: polls until status is completed (prints the body) or failed (dies)
  local b s
  while :; do
    b=$(body_of "$(api GET "$1")")
    s=$(field "$b" status)
    case $s in
      completed) echo "$b"; return ;;
      failed | cancelled) die "$1 $s: $b" ;;
    esac
    sleep 0.25
  done
}

log "taking a base backup"
r=$(api POST /api/v1/databases/pitr_src/base-backups '{}')
[[ $(status_of "$r") == 202 ]] || die "base backup answered $(status_of "$r"): $(body_of "$r")"
BB=$(wait_done "/api/v1/base-backups/$(field "$(body_of "$r")" id)")
BASE_FILE="$WORK/data/artifacts/$(field "$BB" key)"
[[ -f $BASE_FILE ]] || die "the base backup $BASE_FILE is not in local storage"
log "  base backup: $(stat -c %s "$BASE_FILE") B stored"

write_sql="DO \$\$
DECLARE stop timestamptz := clock_timestamp() + make_interval(secs => %s);
BEGIN
  WHILE clock_timestamp() < stop LOOP
    INSERT INTO bench_pitr_writes (at, v)
      SELECT clock_timestamp(), md5(random()::text) || repeat(md5(g::text), 6) FROM generate_series(1, 200) g;
    UPDATE bench_pitr_hot SET n = n + 1, at = clock_timestamp()
      WHERE id IN (SELECT 1 + (random() * 9999)::int FROM generate_series(1, 100));
    COMMIT;
    PERFORM pg_sleep(0.2);
  END LOOP;
END \$\$;"
log "writing for ${BENCH_WRITE_SECONDS}s (≈5 transactions/s of 200 inserts and 100 updates)"
# shellcheck disable=SC2059
psql_q -d "$DB" -c "$(printf "$write_sql" "$BENCH_WRITE_SECONDS")"
NOW=$(date -u +%s.%N)
TARGET_TIME=$(date -u -d "@$NOW" +%Y-%m-%dT%H:%M:%S.%6NZ)
# As recovery_target_time takes it (no T, no Z).
PG_TARGET_TIME=$(date -u -d "@$NOW" '+%Y-%m-%d %H:%M:%S.%6N+00')
# More writes after the target, so that it lies inside the archived window.
# shellcheck disable=SC2059
psql_q -d "$DB" -c "$(printf "$write_sql" 3)"
EXPECTED=$(psql_q -d "$DB" -Atc "SELECT count(*) FROM bench_pitr_writes WHERE at <= '$PG_TARGET_TIME'")
log "target $TARGET_TIME: $EXPECTED rows written before it"

log "waiting for the WAL past the target to be archived"
for i in $(seq 1 240); do
  psql_q -d "$DB" -Atc "SELECT txid_current(); SELECT pg_switch_wal()" >/dev/null
  w=$(body_of "$(api GET /api/v1/databases/pitr_src/recovery-window)")
  past=$(python3 -c 'import json,sys
from datetime import datetime
w = json.loads(sys.argv[1]); t = datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
iv = w.get("intervals") or []
print(1 if iv and datetime.fromisoformat(iv[-1]["to"].replace("Z", "+00:00")) > t else 0)' "$w" "$TARGET_TIME")
  ((past == 1)) && break
  ((i == 240)) && die "the WAL past the target was not archived within 2 minutes: $w"
  sleep 0.5
done
ARCHIVED=$(find "$WORK/data/artifacts" -type d -path '*/wal/00000001' | head -n 1)
[[ -d $ARCHIVED ]] || die "no archived WAL under $WORK/data/artifacts"
# The hand-made restore reads local WAL files: the same archived (zstd) segments, where its
# server user can read them.
WAL_DIR="$WORK/pitr/wal"
rm -rf "$WAL_DIR"
cp -r "$ARCHIVED" "$WAL_DIR"
(($(id -u) == 0)) && chown -R "$SERVER_USER:" "$WAL_DIR"
log "  $(find "$WAL_DIR" -type f | wc -l) WAL segments archived"

timed() { # tag cmd...: wall seconds
  local tag=$1 start end
  shift
  start=$(date +%s.%N)
  # In the background, so that `set -e` holds inside the function (an `if` would suspend it).
  "$@" >"$WORK/logs/$tag.log" 2>&1 &
  if ! wait $!; then
    tail -n 30 "$WORK/logs/$tag.log" >&2 || true
    die "$tag failed (log $WORK/logs/$tag.log)"
  fi
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f\n", e - s }'
}

manual_restore() { # run
  MANUAL_ROOT="$WORK/pitr/manual-$1"
  local data="$MANUAL_ROOT/data" sock="$MANUAL_ROOT/sock" i
  rm -rf "$MANUAL_ROOT"
  as_server mkdir -m 0700 "$MANUAL_ROOT" "$data" "$sock"
  zstd -qdc "$BASE_FILE" | as_server tar -x -C "$data"
  rm -f "$data/postmaster.pid" "$data/standby.signal"
  as_server touch "$data/recovery.signal"
  # The same temporary-server settings as Backline's, so the ratio is Backline's own cost.
  printf 'local all all trust\n' | as_server tee "$MANUAL_ROOT/pg_hba.conf" >/dev/null
  [[ -f $data/postgresql.conf ]] || as_server touch "$data/postgresql.conf"
  local opts=(
    "-c listen_addresses=''" "-c port=5432" "-c unix_socket_directories='$sock'"
    "-c hba_file='$MANUAL_ROOT/pg_hba.conf'" "-c archive_mode=off" "-c hot_standby=off"
    "-c shared_preload_libraries=''" "-c fsync=off" "-c synchronous_commit=off" "-c ssl=off"
    "-c restore_command='zstd -qdc \"$WAL_DIR/%f.zst\" > \"%p\"'"
    "-c recovery_target_time='$PG_TARGET_TIME'" "-c recovery_target_action=promote"
  )
  as_server "$BENCH_PG_BIN/pg_ctl" -D "$data" -l "$MANUAL_ROOT/server.log" -W start -o "${opts[*]}"
  for i in $(seq 1 9000); do
    [[ $(psql -X -h "$sock" -U "$BENCH_PG_USER" -d postgres -Atc 'select pg_is_in_recovery()' 2>/dev/null) == f ]] && break
    if ((i == 9000)) || ! as_server "$BENCH_PG_BIN/pg_ctl" -D "$data" status >/dev/null; then
      tail -n 20 "$MANUAL_ROOT/server.log"
      return 1
    fi
    sleep 0.2
  done
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $MANUAL WITH (FORCE)" -c "CREATE DATABASE $MANUAL"
  pg_dump -Fc -h "$sock" -U "$BENCH_PG_USER" -d "$DB" |
    pg_restore --exit-on-error -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" -U "$BENCH_PG_USER" -d "$MANUAL"
  as_server "$BENCH_PG_BIN/pg_ctl" -D "$data" -m fast -w stop
  rm -rf "$MANUAL_ROOT"
  MANUAL_ROOT=
}

backline_restore() {
  local r
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $TARGET WITH (FORCE)"
  r=$(api POST /api/v1/databases/pitr_src/restore-pitr "{\"target_time\":\"$TARGET_TIME\",\"target_database_id\":\"pitr_dst\"}")
  [[ $(status_of "$r") == 202 ]] || { echo "restore-pitr answered $(status_of "$r"): $(body_of "$r")"; return 1; }
  wait_done "/api/v1/restores/$(field "$(body_of "$r")" id)"
}

rows_in() { psql_q -d "$1" -Atc "SELECT count(*) || ' ' || coalesce(sum(hashtext(v)), 0) FROM bench_pitr_writes"; }

rm -f "$WORK/res/manual" "$WORK/res/backline"
log "measuring: $BENCH_RUNS run(s) of manual and backline, median reported"
for r in $(seq 1 "$BENCH_RUNS"); do
  w=$(timed "manual-$r" manual_restore "$r")
  echo "$w" >>"$WORK/res/manual"
  log "  run $r manual:   wall ${w} s"
  w=$(timed "backline-$r" backline_restore)
  echo "$w" >>"$WORK/res/backline"
  log "  run $r backline: wall ${w} s"
  m=$(rows_in "$MANUAL")
  b=$(rows_in "$TARGET")
  [[ $m == "$b" ]] || die "the restored databases differ: manual $m, backline $b"
  [[ ${m%% *} == "$EXPECTED" ]] || die "the restores hold ${m%% *} rows, $EXPECTED were written before the target"
done

median() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%s\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mm=$(median "$WORK/res/manual")
mb=$(median "$WORK/res/backline")
echo
echo "Backline point-in-time restore — BENCH_SIZE_MB=$BENCH_SIZE_MB, BENCH_WRITE_SECONDS=$BENCH_WRITE_SECONDS, runs=$BENCH_RUNS (median), $(nproc) CPUs"
echo "database $(psql_q -d postgres -Atc "select pg_size_pretty(pg_database_size('$DB'))"), base backup $(stat -c %s "$BASE_FILE") B stored, $(find "$WAL_DIR" -type f | wc -l) WAL segments archived, $EXPECTED rows written before the target"
echo "manual = zstd -dc base | tar -x, restore_command zstd -dc, postgres recovery_target_time + promote, pg_dump -Fc | pg_restore"
printf '%-9s %9s %10s  %s\n' variant wall_s vs_manual result
awk -v w="$mm" 'BEGIN { printf "%-9s %9.2f %9.3fx\n", "manual", w, 1 }'
awk -v w="$mb" -v m="$mm" -v t="$TARGET_WALL" 'BEGIN {
  r = (m > 0 ? w / m : 0); printf "%-9s %9.2f %9.3fx  %s\n", "backline", w, r, (r <= t ? "PASS" : "MISS") }'
echo
echo "per-run figures (wall_s):"
for f in manual backline; do awk -v n="$f" '{ printf "  %-9s run %d: %s\n", n, NR, $0 }' "$WORK/res/$f"; done
