#!/usr/bin/env bash
# Backline restore throughput benchmark: Backline's `restore` CLI against the raw
# single-stream load of the same artifact (`zstd -dc artifact | pg_restore -d new` /
# `| mariadb new`), on the databases bench/backup_throughput.sh builds, for PostgreSQL and
# MariaDB, into a fresh database and over an existing one. See bench/README.md.
#
# usage: bench/restore_throughput.sh [--help]
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/restore_throughput.sh [options]

  -h, --help       this text

Builds (or reuses) the benchmark databases with bench/backup_throughput.sh --generate-only,
takes one Backline version of each, then measures, alternating, per engine:
  raw              drop + create an empty database, zstd -dc artifact | pg_restore -d / mariadb
  fresh            backline restore into a registered target that does not exist (PostgreSQL)
                   or is empty (MariaDB)
  over             backline restore over the target holding the previous restore
  fresh-j1         PostgreSQL only: fresh, with --jobs 1 (what pg_restore --jobs N gives)
The ratio of each variant's median wall time to raw's is checked against 1.10.

environment (as bench/backup_throughput.sh, plus):
  BENCH_SIZE_MB    target database size in MiB (default 1024; e.g. 100 for a smoke run)
  BENCH_ENGINES    engines to run (default "postgres mysql")
  BENCH_RUNS       measurements per variant, median reported (default 3)
  BENCH_JOBS       pg_restore jobs of the fresh/over variants (default: Backline's, min(4, cores))
  BENCH_WORK       work directory (default: new mktemp dir under /var/tmp, removed at exit)
  BACKLINE_BIN     backline binary (default ${CARGO_TARGET_DIR:-<repo>/target}/release/backline)
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
BENCH_ENGINES=${BENCH_ENGINES:-"postgres mysql"}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
BENCH_PG_PORT=${BENCH_PG_PORT:-5432}
BENCH_PG_USER=${BENCH_PG_USER:-postgres}
BENCH_MY_HOST=${BENCH_MY_HOST:-127.0.0.1}
BENCH_MY_PORT=${BENCH_MY_PORT:-3306}
BENCH_MY_USER=${BENCH_MY_USER:-root}
BACKLINE_BIN=${BACKLINE_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/backline}
DB=${BENCH_DB:-backline_bench}
TARGET=${DB}_restored
RAWDB=${DB}_raw
ADMIN_TOKEN=bench-admin-token-0123456789abcdef
TARGET_WALL=1.10

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $BENCH_RUNS =~ ^[0-9]+$ ]] && ((BENCH_RUNS >= 1)) || die "BENCH_RUNS must be an integer >= 1"
read -r -a ENGINES <<<"$BENCH_ENGINES"
for e in "${ENGINES[@]}"; do
  case $e in postgres | mysql) ;; *) die "unknown engine '$e' in BENCH_ENGINES (postgres, mysql)" ;; esac
done
command -v zstd >/dev/null || die "zstd not found: apt-get install -y zstd"
command -v curl >/dev/null || die "curl not found: apt-get install -y curl"
command -v python3 >/dev/null || die "python3 not found"
/usr/bin/time -f '%e' true 2>/dev/null || die "GNU time not found at /usr/bin/time: apt-get install -y time"
[[ -x $BACKLINE_BIN ]] || die "backline binary not found: $BACKLINE_BIN (cargo build --release -p backline-api)"
case $BACKLINE_BIN in */debug/*) log "WARNING: $BACKLINE_BIN looks like a debug build: the figures are not meaningful" ;; esac

psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" -U "$BENCH_PG_USER" "$@"; }
my_q() { mariadb -h "$BENCH_MY_HOST" -P "$BENCH_MY_PORT" -u "$BENCH_MY_USER" "$@"; }

if [[ -n ${BENCH_WORK:-} ]]; then
  WORK=$BENCH_WORK
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /var/tmp/backline-restore-bench.XXXXXX)
fi
mkdir -p "$WORK/logs" "$WORK/res" "$WORK/data"
SERVER_PID=

# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  [[ -n $SERVER_PID ]] && { kill "$SERVER_PID"; wait "$SERVER_PID"; } 2>/dev/null
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $TARGET WITH (FORCE)" -c "DROP DATABASE IF EXISTS $RAWDB WITH (FORCE)" 2>/dev/null
  my_q -e "DROP DATABASE IF EXISTS $TARGET; DROP DATABASE IF EXISTS $RAWDB" 2>/dev/null
  if ((rc != 0)); then log "failed: logs kept in $WORK/logs"; elif [[ -z ${BENCH_WORK:-} ]]; then rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT

log "building or reusing the benchmark databases (bench/backup_throughput.sh --generate-only)"
BENCH_SIZE_MB=$BENCH_SIZE_MB BENCH_ENGINES=$BENCH_ENGINES BENCH_DB=$DB \
  "$BENCH_DIR/backup_throughput.sh" --generate-only

# empty targets (MariaDB needs its database to exist to be registered)
reset_target() { # engine name: an empty database
  if [[ $1 == postgres ]]; then
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" -c "CREATE DATABASE $2"
  else
    my_q -e "DROP DATABASE IF EXISTS $2; CREATE DATABASE $2"
  fi
}
drop_target() { # engine name
  if [[ $1 == postgres ]]; then psql_q -d postgres -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)"; else reset_target "$@"; fi
}

url() { # engine db
  if [[ $1 == postgres ]]; then echo "postgres://$BENCH_PG_USER@$BENCH_PG_HOST:$BENCH_PG_PORT/$2"; else echo "mysql://$BENCH_MY_USER@$BENCH_MY_HOST:$BENCH_MY_PORT/$2"; fi
}

register() {
  local port base i code e n
  port=$((20000 + RANDOM % 40000))
  base="http://127.0.0.1:$port"
  BACKLINE_DATA_DIR="$WORK/data" BACKLINE_LISTEN="127.0.0.1:$port" BACKLINE_ADMIN_TOKEN="$ADMIN_TOKEN" \
    "$BACKLINE_BIN" serve >"$WORK/logs/server.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true)
    [[ $code == 200 ]] && break
    ((i == 120)) && die "backline serve did not answer /healthz (log: $WORK/logs/server.log)"
    sleep 0.5
  done
  for e in "${ENGINES[@]}"; do
    reset_target "$e" "$TARGET"
    for n in "src_$e:$DB" "dst_$e:$TARGET"; do
      code=$(curl -s -o "$WORK/logs/register-${n%%:*}.json" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d "{\"name\":\"${n%%:*}\",\"engine\":\"$e\",\"connection\":\"$(url "$e" "${n#*:}")\"}" "$base/api/v1/databases")
      [[ $code == 201 || $code == 409 ]] || die "registering ${n%%:*} answered $code: $(cat "$WORK/logs/register-${n%%:*}.json")"
    done
  done
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
register

timed() { # tag cmd...: "wall cpu rss_kib"
  local tag=$1 tf
  shift
  tf="$WORK/logs/$tag.time"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$WORK/logs/$tag.log" 2>&1; then
    tail -n 30 "$WORK/logs/$tag.log" >&2 || true
    die "$tag failed (log $WORK/logs/$tag.log)"
  fi
  tail -n 1 "$tf" | awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }'
}

declare -A VERSION ARTIFACT
for e in "${ENGINES[@]}"; do
  log "$e: taking one Backline version of $DB"
  BACKLINE_DATA_DIR="$WORK/data" "$BACKLINE_BIN" --json backup --database "src_$e" >"$WORK/logs/backup-$e.json" 2>"$WORK/logs/backup-$e.log" ||
    die "backup of $e failed: $(tail -n 5 "$WORK/logs/backup-$e.log")"
  VERSION[$e]=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$WORK/logs/backup-$e.json")
  key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["storage_key"])' <"$WORK/logs/backup-$e.json")
  ARTIFACT[$e]=$(find "$WORK/data" -type f -path "*$key" | head -n 1)
  [[ -f ${ARTIFACT[$e]} ]] || die "the artifact $key of $e is not under $WORK/data"
  log "$e: version ${VERSION[$e]}, artifact $(stat -c %s "${ARTIFACT[$e]}") B"
done

raw_load() { # engine
  if [[ $1 == postgres ]]; then
    printf 'set -o pipefail; psql -X -q -h %q -p %q -U %q -d postgres -c %q -c %q && zstd -dc %q | pg_restore --exit-on-error -h %q -p %q -U %q -d %q' \
      "$BENCH_PG_HOST" "$BENCH_PG_PORT" "$BENCH_PG_USER" "DROP DATABASE IF EXISTS $RAWDB WITH (FORCE)" "CREATE DATABASE $RAWDB" \
      "${ARTIFACT[$1]}" "$BENCH_PG_HOST" "$BENCH_PG_PORT" "$BENCH_PG_USER" "$RAWDB"
  else
    printf 'set -o pipefail; mariadb -h %q -P %q -u %q -e %q && zstd -dc %q | mariadb --binary-mode -h %q -P %q -u %q %q' \
      "$BENCH_MY_HOST" "$BENCH_MY_PORT" "$BENCH_MY_USER" "DROP DATABASE IF EXISTS $RAWDB; CREATE DATABASE $RAWDB" \
      "${ARTIFACT[$1]}" "$BENCH_MY_HOST" "$BENCH_MY_PORT" "$BENCH_MY_USER" "$RAWDB"
  fi
}

backline_restore() { # engine variant run
  local jobs=()
  [[ $2 == fresh-j1 ]] && jobs=(--jobs 1)
  [[ $2 != fresh-j1 && -n ${BENCH_JOBS:-} ]] && jobs=(--jobs "$BENCH_JOBS")
  timed "$1-$2-$3" env BACKLINE_DATA_DIR="$WORK/data" "$BACKLINE_BIN" restore \
    --backup "${VERSION[$1]}" --target "dst_$1" "${jobs[@]}"
}

for e in "${ENGINES[@]}"; do
  variants=(raw fresh over)
  [[ $e == postgres ]] && variants+=(fresh-j1)
  for v in "${variants[@]}"; do rm -f "$WORK/res/$e.$v"; done
  log "measuring $e: $BENCH_RUNS run(s) of ${variants[*]}, median reported"
  for r in $(seq 1 "$BENCH_RUNS"); do
    for v in "${variants[@]}"; do
      case $v in
        raw) fig=$(timed "$e-raw-$r" bash -c "$(raw_load "$e")") ;;
        fresh | fresh-j1) drop_target "$e" "$TARGET"; fig=$(backline_restore "$e" "$v" "$r") ;;
        over) fig=$(backline_restore "$e" over "$r") ;;
      esac
      echo "$fig" >>"$WORK/res/$e.$v"
      log "  run $r $e $v: $(awk '{ printf "wall %.2f s, cpu %.2f s, rss %.1f MiB", $1, $2, $3 / 1024 }' <<<"$fig")"
    done
  done
done

median_col() { # file column
  awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%s\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "Backline restore throughput — BENCH_SIZE_MB=$BENCH_SIZE_MB, runs=$BENCH_RUNS (median), $(nproc) CPUs, jobs=${BENCH_JOBS:-default}"
echo "raw = drop/create + zstd -dc artifact | pg_restore -d new  /  | mariadb new (one stream)"
printf '%-9s %-9s %9s %9s %9s %10s  %s\n' engine variant wall_s cpu_s rss_MiB vs_raw result
for e in "${ENGINES[@]}"; do
  rw=$(median_col "$WORK/res/$e.raw" 1)
  for f in "$WORK/res/$e".*; do
    v=${f##*.}
    w=$(median_col "$f" 1); c=$(median_col "$f" 2); m=$(median_col "$f" 3)
    awk -v e="$e" -v v="$v" -v w="$w" -v c="$c" -v m="$m" -v rw="$rw" -v t="$TARGET_WALL" 'BEGIN {
      r = (rw > 0 ? w / rw : 0)
      res = (v == "raw" ? "" : (r <= t ? "PASS" : "MISS"))
      printf "%-9s %-9s %9.2f %9.2f %9.1f %9.3fx  %s\n", e, v, w, c, m / 1024, r, res }'
  done
done
echo
echo "per-run figures (wall_s cpu_s rss_KiB):"
for f in "$WORK"/res/*; do awk -v n="${f##*/}" '{ printf "  %-18s run %d: %s\n", n, NR, $0 }' "$f"; done
