#!/usr/bin/env bash
# Property-based test of the API against its own OpenAPI document: Schemathesis generates
# requests from /api/v1/openapi.json (valid ones and deliberately invalid ones) and checks
# every answer: no 5xx, every status and header documented, every body valid against its
# schema, invalid input refused, deleted resources gone, auth enforced.
#
#   tests/openapi/schemathesis.sh SERVER_BINARY
#
# Use a debug build of the server: debug builds answer 500 for a route the document does
# not describe, which the `not_a_server_error` check then reports.
#
# Two of Schemathesis's checks are left out, for reasons the schema language cannot carry:
# - positive_data_acceptance: a body valid by its schema can still be refused with 422 —
#   a reference to a record that does not exist, an address with an invalid domain, a
#   meeting that ends before it starts. JSON Schema cannot say those; the server's own tests
#   cover them.
# - missing_required_header: without If-Match the server answers 428 Precondition
#   Required (RFC 6585, documented on each operation); the check only accepts 400-422.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVER_BIN="${1:?usage: $0 SERVER_BINARY}"
VERSION="4.32.5"
VENV="$ROOT/.tools/schemathesis-$VERSION"
# A fixed seed: the same cases on every run (set SCHEMATHESIS_SEED to explore others).
SEED="${SCHEMATHESIS_SEED:-20261121}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"

# `installed` is written last: a half-done install is redone (a venv cannot be moved into
# place, its scripts name their own path).
if [ ! -f "$VENV/installed" ]; then
  echo "==> installing schemathesis $VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
  touch "$VENV/installed"
fi

DATA_DIR="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

# The per-token rate limit is lifted: thousands of cases from one token would otherwise be
# answered 429 (documented, and tested by tests/api/limits.rs) instead of exercising the API.
env -u DATABASE_URL THREADLINE_RATE_LIMIT_PER_SECOND=1000000 THREADLINE_RATE_LIMIT_BURST=1000000 \
  "$SERVER_BIN" --data-dir "$DATA_DIR" serve --listen 127.0.0.1:0 \
  >"$DATA_DIR/stdout" 2>"$DATA_DIR/stderr" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$DATA_DIR/stdout" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA_DIR/stderr" >&2; exit 1; }
  sleep 0.1
done
BASE="$(sed -n 's/^listening on //p' "$DATA_DIR/stdout")"
TOKEN="$(sed -n 's/^THREADLINE_TOKEN=//p' "$DATA_DIR/stdout")"
[ -n "$BASE" ] && [ -n "$TOKEN" ] || { echo "the server did not start" >&2; cat "$DATA_DIR/stderr" >&2; exit 1; }

# Schemathesis keeps reports in the working directory: the throwaway one.
cd "$DATA_DIR"
echo "==> schemathesis against $BASE/api/v1/openapi.json (seed $SEED)" >&2
status=0
"$VENV/bin/st" --no-color run "$BASE/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --exclude-checks positive_data_acceptance,missing_required_header \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$MAX_EXAMPLES" \
  --workers 1 \
  --seed "$SEED" \
  --generation-database none \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "==> server log (stderr), last lines:" >&2
  tail -n 40 "$DATA_DIR/stderr" >&2
fi
exit "$status"
