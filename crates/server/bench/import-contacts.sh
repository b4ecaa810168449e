#!/usr/bin/env bash
# Benchmark of `threadline-server import contacts --csv`: time and peak memory (max RSS,
# from GNU time) of importing a generated CSV of 100,000 contacts (Google Contacts export
# columns, seeded: the same file every run) into an empty database, on SQLite and on a
# throwaway PostgreSQL cluster (tests/pg/throwaway-cluster.sh); then the same file again
# (every row already there: skipped). Release build. Figures: BENCHMARKS.md.
#
#   crates/server/bench/import-contacts.sh [ROWS] [SEED]     (from the repository root)
#   THREADLINE_BENCH_ENGINES=sqlite ...                                  (only one engine)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
ROWS="${1:-100000}"
SEED="${2:-42}"
ENGINES="${THREADLINE_BENCH_ENGINES:-sqlite postgres}"
BIN="$ROOT/target/release/threadline-server"
GEN="$ROOT/target/release/examples/gen_contacts_csv"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }

# Inner mode: one engine, the database given by DATABASE_URL (PostgreSQL) or a fresh data
# directory (SQLite).
if [ "${1:-}" = "--one" ]; then
  engine="$2" csv="$3" work="$4"
  if [ "$engine" = postgres ]; then
    export DATABASE_URL="$THREADLINE_TEST_DATABASE_URL"
  fi
  export THREADLINE_DATA_DIR="$work/data-$engine" RUST_LOG=warn
  "$BIN" user create --email bench@example.com --name Bench >/dev/null
  for run in first again; do
    /usr/bin/time -v -o "$work/time-$engine-$run" "$BIN" import contacts --csv "$csv" >"$work/out-$engine-$run"
    wall="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time-$engine-$run")"
    rss="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-$engine-$run")"
    imported="$(sed -n 's/^imported: \([0-9]*\).*/\1/p' "$work/out-$engine-$run")"
    skipped="$(sed -n 's/^skipped: \([0-9]*\).*/\1/p' "$work/out-$engine-$run")"
    rejected="$(sed -n 's/^rejected: \([0-9]*\).*/\1/p' "$work/out-$engine-$run")"
    companies="$(sed -n 's/^companies created: \([0-9]*\).*/\1/p' "$work/out-$engine-$run")"
    printf '| %s | %s | %s | %s MB | %s | %s | %s | %s |\n' "$engine" "$run" "$wall" \
      "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$imported" "$companies" "$skipped" "$rejected"
  done
  exit 0
fi

log "release build (server and generator)"
(cd "$ROOT" && cargo build --release -q -p threadline-server --bin threadline-server --example gen_contacts_csv)
work="$(mktemp -d "${TMPDIR:-/tmp}/threadline-import-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
csv="$work/contacts.csv"
log "generating $ROWS rows (seed $SEED)"
"$GEN" --rows "$ROWS" --seed "$SEED" >"$csv"
log "$(du -h "$csv" | cut -f1) CSV; load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "| engine | run | wall time | max RSS | imported | companies created | skipped | rejected |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for engine in $ENGINES; do
  case "$engine" in
    sqlite) "$0" --one sqlite "$csv" "$work" ;;
    postgres) "$ROOT/tests/pg/throwaway-cluster.sh" run "$0" --one postgres "$csv" "$work" ;;
    *) echo "unknown engine $engine" >&2; exit 1 ;;
  esac
done
