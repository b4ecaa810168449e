#!/usr/bin/env bash
# The server benchmarks on both engines (lookups, the web app's pages, files): builds the
# release server and threadline-bench, runs the suite on SQLite (a temporary data
# directory) and on PostgreSQL (a throwaway cluster: tests/pg/throwaway-cluster.sh), prints
# the figures as Markdown and keeps them as JSON in target/threadline-bench/. Figures go to
# BENCHMARKS.md ("Server") by hand.
#
#   crates/bench/run.sh            1,000,000 contacts, 200,000 companies (~20 min
#                                             on 2 busy cores, most of it seeding)
#   crates/bench/run.sh --quick    20,000 / 4,000 and short windows: a smoke run
#   crates/bench/run.sh --only=sqlite|postgres [other threadline-bench run options]
#
# Extra options go to `threadline-bench run` (see its --help). The pages alone, on a data
# directory seeded once and kept (before/after an index: --without-index NAME):
#   threadline-bench pages --data-dir DIR [--database-url URL]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

ONLY=""
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --only=*) ONLY="${arg#--only=}" ;;
    *) ARGS+=("$arg") ;;
  esac
done

log "building threadline-server and threadline-bench (release)"
cargo build --release -p threadline-server -p threadline-bench
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BENCH="$RELEASE/threadline-bench"
OUT="$ROOT/target/threadline-bench"
mkdir -p "$OUT"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), revision $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

if [ -z "$ONLY" ] || [ "$ONLY" = sqlite ]; then
  log "SQLite"
  "$BENCH" run --server-bin "$RELEASE/threadline-server" \
    --json "$OUT/sqlite-$STAMP.json" "${ARGS[@]}"
fi

if [ -z "$ONLY" ] || [ "$ONLY" = postgres ]; then
  log "PostgreSQL (throwaway cluster)"
  # The cluster's fresh, empty database (UTF8, C locale) is the one the suite seeds.
  "$ROOT/tests/pg/throwaway-cluster.sh" run sh -c \
    'THREADLINE_BENCH_DATABASE_URL="$THREADLINE_TEST_DATABASE_URL" exec "$@"' sh \
    "$BENCH" run --server-bin "$RELEASE/threadline-server" \
    --json "$OUT/postgres-$STAMP.json" "${ARGS[@]}"
fi
log "JSON reports in $OUT"
