#!/usr/bin/env bash
# Threadline's one build entry point. On a fresh machine it installs what it needs
# (idempotently: every step checks first), then:
#
#   ./build.sh            build everything: WASM core + glue, dist/extension/, the zip, the server
#   ./build.sh run        build, then start the server on 127.0.0.1 with an embedded database
#   ./build.sh test       build, then run every test suite (the server's on SQLite and on
#                         a throwaway PostgreSQL: tests/pg/throwaway-cluster.sh; the
#                         end-to-end tests in Chromium, then in Firefox ESR)
#   ./build.sh bench      build, then run the benchmarks (figures go to BENCHMARKS.md by hand)
#   ./build.sh extension  only the WASM core and dist/extension (quick iteration)
# THREADLINE_DIST moves dist/ elsewhere (parallel work on one checkout).
#
# The WASM route follows ../shared/TOOLCHAIN.md: rustup cannot add the wasm32 target on
# these machines, so Debian's rustc-web (whose LLVM has the wasm32 back end) compiles the
# core with -Z build-std, linked by lld-19's wasm-ld. Where rustup already has the target
# (a developer laptop), the plain cargo route is used instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

DIST="${THREADLINE_DIST:-$ROOT/dist}"
EXT_DIST="$DIST/extension"
WASM_TARGET_DIR="$ROOT/target/wasm"
WASM_PROFILE="wasm-release"
CRATE_LIB="threadline_extension"
SERVER_PORT="${THREADLINE_PORT:-8787}"
DATA_DIR="${THREADLINE_DATA_DIR:-$ROOT/.data}"

# Each step says how long the command has run so far (bash's SECONDS), so that a slow phase
# of `./build.sh test` shows in its log.
log() { printf '\033[1;34m==>\033[0m [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------------------
# Toolchain bootstrap

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

host_has_wasm_target() {
  command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

# Sets WASM_CARGO and the environment for compiling to wasm32.
setup_wasm_toolchain() {
  if host_has_wasm_target; then
    WASM_RUSTFLAGS=""
    WASM_CARGO=(cargo)
    WASM_BUILD_STD=()
    return
  fi
  apt_install rustc-web cargo-web rust-web-src lld-19
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-19/bin/wasm-ld
  # With std built from source, a panic can abort without any formatting machinery:
  # ~7 kB gzip less (measured). RUSTFLAGS with --target reach only wasm32 artifacts.
  WASM_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort"
  WASM_CARGO=(/usr/bin/cargo)
  WASM_BUILD_STD=(-Z build-std=std,panic_abort)
}

wasm_bindgen_version() {
  # The version Cargo.lock resolved; Cargo.toml pins it with '='.
  awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock"
}

ensure_wasm_bindgen_cli() {
  local want have=""
  want="$(wasm_bindgen_version)"
  [ -n "$want" ] || die "Cargo.lock has no wasm-bindgen entry; run cargo generate-lockfile"
  if command -v wasm-bindgen >/dev/null; then have="$(wasm-bindgen --version | awk '{print $2}')"; fi
  if [ "$have" != "$want" ]; then
    log "installing wasm-bindgen-cli $want (had: ${have:-none})"
    # No --locked: the registry mirror lacks a few versions the CLI's own lock pins.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

ensure_chromium() {
  apt_install chromium chromium-driver openssl zip
}

# Firefox ESR (Debian) and geckodriver (crates.io, into .tools/: built once, kept while its
# version is the pinned one), for the Firefox end-to-end tests.
GECKODRIVER_VERSION=0.37.1
ensure_firefox() {
  apt_install firefox-esr
  local bin="$ROOT/.tools/bin/geckodriver" have=""
  [ -x "$bin" ] && have="$("$bin" --version | awk 'NR==1{print $2}')"
  if [ "$have" != "$GECKODRIVER_VERSION" ]; then
    log "installing geckodriver $GECKODRIVER_VERSION into .tools/ (had: ${have:-none})"
    cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked --root "$ROOT/.tools" --force
  fi
}

ensure_node_deps() {
  command -v node >/dev/null || apt_install nodejs npm
  local dir="$ROOT/tests/e2e"
  [ -f "$dir/package.json" ] || return 0
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci (tests/e2e)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# --------------------------------------------------------------------------------------
# Build steps

build_wasm() {
  setup_wasm_toolchain
  ensure_wasm_bindgen_cli
  log "compiling the WASM core"
  RUSTFLAGS="$WASM_RUSTFLAGS" CARGO_TARGET_DIR="$WASM_TARGET_DIR" "${WASM_CARGO[@]}" build --lib \
    -p threadline-extension --target wasm32-unknown-unknown --profile "$WASM_PROFILE" "${WASM_BUILD_STD[@]}"
  local out="$EXT_DIST/wasm"
  mkdir -p "$out"
  # --target web: an ES module the content script loads with dynamic import().
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$out" \
    "$WASM_TARGET_DIR/wasm32-unknown-unknown/$WASM_PROFILE/$CRATE_LIB.wasm"
}

assemble_extension() {
  log "assembling dist/extension"
  mkdir -p "$EXT_DIST"
  # Copy everything but the wasm/ output, which build_wasm wrote already.
  find "$EXT_DIST" -mindepth 1 -maxdepth 1 ! -name wasm -exec rm -rf {} +
  cp -R "$ROOT/extension/." "$EXT_DIST/"
  cp "$ROOT/manifest.json" "$EXT_DIST/manifest.json"
  find "$EXT_DIST" -name '*.py' -delete
  rm -f "$DIST/threadline-extension.zip"
  (cd "$EXT_DIST" && zip -qr -X "$DIST/threadline-extension.zip" .)
}

build_server() {
  log "building threadline-server"
  cargo build --release -p threadline-server
}

build_all() {
  ensure_chromium
  build_wasm
  assemble_extension
  build_server
}

# --------------------------------------------------------------------------------------
# Commands

# THREADLINE_LOCAL_GOOGLE=1 ./build.sh run: the server is given the local Google
# (crates/fake-providers) as its Google, to try connecting an account and the
# Calendar sync on one machine, without a Google Cloud project.
LOCAL_GOOGLE_PORT="${THREADLINE_LOCAL_GOOGLE_PORT:-8790}"
start_local_google() {
  log "building and starting the local Google on 127.0.0.1:$LOCAL_GOOGLE_PORT"
  cargo build --release -p threadline-fake-providers
  local base="http://127.0.0.1:$LOCAL_GOOGLE_PORT"
  "$ROOT/target/release/threadline-fake-providers" serve --listen "127.0.0.1:$LOCAL_GOOGLE_PORT" \
    --email "${THREADLINE_LOCAL_GOOGLE_EMAIL:-me@example.com}" \
    --redirect-uri "http://127.0.0.1:$SERVER_PORT/oauth/google/callback" \
    --dropbox-redirect-uri "http://127.0.0.1:$SERVER_PORT/oauth/dropbox/callback" &
  LOCAL_GOOGLE_PID=$!
  trap 'kill "$LOCAL_GOOGLE_PID" 2>/dev/null || true' EXIT
  export THREADLINE_GOOGLE_CLIENT_ID=fake-client.apps.googleusercontent.com
  export THREADLINE_GOOGLE_CLIENT_SECRET=fake-secret
  export THREADLINE_GOOGLE_AUTH_URL="$base/o/oauth2/v2/auth"
  export THREADLINE_GOOGLE_TOKEN_URL="$base/token"
  export THREADLINE_GOOGLE_REVOKE_URL="$base/revoke"
  export THREADLINE_GOOGLE_USERINFO_URL="$base/v1/userinfo"
  export THREADLINE_GOOGLE_DISCOVERY_URL="$base/.well-known/openid-configuration"
  export THREADLINE_GOOGLE_CALENDAR_API_URL="$base/calendar/v3"
  export THREADLINE_GOOGLE_PEOPLE_API_URL="$base/v1"
  export THREADLINE_GOOGLE_DRIVE_API_URL="$base/drive/v3"
  export THREADLINE_GOOGLE_DRIVE_UPLOAD_URL="$base/upload/drive/v3"
  # The local Dropbox, on the same port (its app "Threadline CRM", the same account).
  export THREADLINE_DROPBOX_APP_KEY=fakedropboxappkey
  export THREADLINE_DROPBOX_APP_SECRET=fake-dropbox-secret
  export THREADLINE_DROPBOX_AUTH_URL="$base/oauth2/authorize"
  export THREADLINE_DROPBOX_TOKEN_URL="$base/oauth2/token"
  export THREADLINE_DROPBOX_API_URL="$base/2"
  export THREADLINE_DROPBOX_CONTENT_URL="$base/2"
}

cmd_run() {
  build_all
  mkdir -p "$DATA_DIR"
  local local_google=""
  if [ "${THREADLINE_LOCAL_GOOGLE:-0}" = 1 ]; then
    start_local_google
    local_google="
  - Google and Dropbox are the local fakes on http://127.0.0.1:$LOCAL_GOOGLE_PORT (account
    ${THREADLINE_LOCAL_GOOGLE_EMAIL:-me@example.com}): connect them in the web app under
    Integrations; the local consent screen approves at once. Planning then shows the
    calendar's busy times in grey."
  fi
  cat >&2 <<EOF

  Threadline is starting.
  - The extension is built in: $EXT_DIST
    Load it in Chrome/Chromium: chrome://extensions → Developer mode → Load unpacked → that folder.
  - The server listens on http://127.0.0.1:$SERVER_PORT, data in $DATA_DIR.
  - The web app is at http://127.0.0.1:$SERVER_PORT/. On the first start, open the setup link
    printed below and choose your password (a new link is printed on each start until then).
  - Open the extension's options, set the server URL above and press "Sign in with
    Threadline": the web app asks you to allow this browser. (Scripts can use the API token
    printed below on the first start, or one made under Settings → API tokens.)$local_google

EOF
  if [ -n "$local_google" ]; then
    # Not exec: the EXIT trap stops the local Google with the server.
    "$ROOT/target/release/threadline-server" serve --listen "127.0.0.1:$SERVER_PORT" --data-dir "$DATA_DIR"
  else
    exec "$ROOT/target/release/threadline-server" serve --listen "127.0.0.1:$SERVER_PORT" --data-dir "$DATA_DIR"
  fi
}

test_rust() {
  log "cargo test (domain, server, core on the host; the server on SQLite)"
  cargo test --workspace
  # Again with the server on PostgreSQL, in a throwaway cluster that the script removes
  # afterwards (installing the postgresql package if needed). The same selection as above,
  # so the same test binaries run, without a rebuild: `-p threadline-server` would unify
  # other dependency features and rebuild most of the server's dependencies. Only the
  # server's tests use the database; the others add a tenth of a second.
  log "cargo test again, the server on a throwaway PostgreSQL"
  "$ROOT/tests/pg/throwaway-cluster.sh" run cargo test --workspace
}

test_openapi() {
  # The API against its own OpenAPI document, property-based (Schemathesis; installed into
  # .tools/ on first use). The debug build from test_rust: it refuses undocumented routes.
  log "schemathesis: the API against /api/v1/openapi.json"
  "$ROOT/tests/openapi/schemathesis.sh" "$ROOT/target/debug/threadline-server"
}

test_wasm_dom() {
  # The DOM adapter's wasm-bindgen tests, in headless Chromium.
  setup_wasm_toolchain
  log "wasm-bindgen-test in headless Chromium"
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
  export CHROMEDRIVER=/usr/bin/chromedriver
  CARGO_TARGET_DIR="$WASM_TARGET_DIR" "${WASM_CARGO[@]}" test -p threadline-extension \
    --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" --tests
}

test_extension_unit() {
  if [ -d "$ROOT/tests/extension" ]; then
    log "extension unit tests (node --test)"
    node --test "$ROOT"/tests/extension/
  fi
}

test_e2e() {
  ensure_node_deps
  log "end-to-end tests (Playwright + Chromium + threadline-server)"
  (cd "$ROOT/tests/e2e" && THREADLINE_SERVER_BIN="$ROOT/target/release/threadline-server" \
    THREADLINE_EXTENSION_DIR="$EXT_DIST" npm test)
}

test_web() {
  ensure_node_deps
  # The local Google of web/google.test.mjs (connecting, the planning's busy times).
  cargo build --release -p threadline-fake-providers
  log "the web app in Chromium (Playwright + axe-core + threadline-server)"
  (cd "$ROOT/tests/e2e" && THREADLINE_SERVER_BIN="$ROOT/target/release/threadline-server" \
    THREADLINE_FAKE_PROVIDERS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/threadline-fake-providers" \
    npm run test:web)
}

test_firefox() {
  ensure_firefox
  ensure_node_deps
  # Exits non-zero on any error; warnings are printed (the expected ones: tests/e2e/README.md).
  log "addons-linter on dist/extension"
  (cd "$ROOT/tests/e2e" && THREADLINE_EXTENSION_DIR="$EXT_DIST" npm run --silent lint:addon)
  log "end-to-end tests in Firefox ESR (geckodriver + selenium-webdriver + threadline-server)"
  (cd "$ROOT/tests/e2e" && THREADLINE_SERVER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/threadline-server" \
    THREADLINE_EXTENSION_DIR="$EXT_DIST" GECKODRIVER_BIN="$ROOT/.tools/bin/geckodriver" npm run test:firefox)
}

cmd_test() {
  build_all
  test_rust
  test_openapi
  test_wasm_dom
  test_extension_unit
  test_e2e
  test_web
  test_firefox
  log "all test suites passed"
}

cmd_bench() {
  build_all
  ensure_node_deps
  (cd "$ROOT/tests/e2e" && THREADLINE_SERVER_BIN="$ROOT/target/release/threadline-server" \
    THREADLINE_EXTENSION_DIR="$EXT_DIST" node bench/run.mjs ${BENCH_QUICK:+--quick})
  log "server benchmarks (crates/bench): lookup under load, the web app's pages (contacts list, search, a company's 1,000-entry timeline; page vs the model's calls), file transfers, both engines"
  "$ROOT/crates/bench/run.sh" ${BENCH_QUICK:+--quick}
  log "server benchmark: import of 100,000 contacts from CSV, both engines"
  "$ROOT/crates/server/bench/import-contacts.sh"
  log "document sync benchmark: Dropbox (the local fake, another process), SQLite"
  cargo build --release -p threadline-dropbox --example files_sync_bench
  log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/files_sync_bench" \
    ${BENCH_QUICK:+--records 50 --big-record-files 100 --repeat 1}
}

case "${1:-build}" in
  build) build_all ;;
  extension) ensure_chromium; build_wasm; assemble_extension ;;
  # The DOM adapter's browser tests alone (with THREADLINE_FUZZ_CASES for a long fuzz run).
  test-wasm-dom) ensure_chromium; test_wasm_dom ;;
  run) cmd_run ;;
  test) cmd_test ;;
  # `./build.sh bench --quick`: small data, for a smoke run.
  bench) [ "${2:-}" = --quick ] && BENCH_QUICK=1; cmd_bench ;;
  *) die "usage: $0 [build|run|test|test-wasm-dom|bench]" ;;
esac
