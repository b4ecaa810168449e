#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the server's tests: in a temporary directory, on a free
# loopback port (127.0.0.1 only; its unix socket stays in that directory); removed afterwards.
#
# Tests connect over TCP as `threadline`, without a password (a password would cost every
# connection a PBKDF2 key derivation, slow in debug builds), to its database
# `threadline_tests`. That role may log in and create databases, nothing more, so another
# local user gains nothing beyond throwaway databases; the superuser `postgres` is reachable
# only through the socket in the cluster's private directory.
#
#   tests/pg/throwaway-cluster.sh run CMD [ARG]...
#       start a cluster, run CMD with THREADLINE_TEST_DATABASE_URL set to it, then stop and
#       delete the cluster (also when CMD fails or the script is interrupted); exits with
#       CMD's status.
#   tests/pg/throwaway-cluster.sh start
#       start a cluster; print (on stdout) THREADLINE_PG_DIR=<dir> and
#       THREADLINE_TEST_DATABASE_URL=<url>, ready for eval.
#   tests/pg/throwaway-cluster.sh stop DIR
#       stop the cluster in DIR and delete DIR.
#
# Installs the Debian package `postgresql` when no PostgreSQL server is installed. As root
# (CI, containers) the server runs as the `postgres` system user: PostgreSQL refuses root.
set -euo pipefail

MARKER=".threadline-throwaway-cluster"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The newest installed server's bin directory, or nothing.
pg_bin_dir() {
  local dir
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && printf '%s\n' "$dir"
}

ensure_postgresql() {
  [ -n "$(pg_bin_dir)" ] && return 0
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get to install it"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing postgresql (Debian package)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  [ -n "$(pg_bin_dir)" ] || die "postgresql was installed but no server was found under /usr/lib/postgresql"
}

# Runs a PostgreSQL program as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
  ensure_postgresql
  local bin dir base="${TMPDIR:-/tmp}"
  bin="$(pg_bin_dir)"
  # As root, /tmp: the postgres user must be able to reach the directory.
  [ "$(id -u)" -eq 0 ] && base=/tmp
  dir="$(mktemp -d "$base/threadline-pg.XXXXXX")"
  touch "$dir/$MARKER"
  # On failure from here on (set -e, die), leave nothing behind.
  trap 'stop_cluster "$dir"' EXIT

  mkdir "$dir/data"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
  chmod 700 "$dir"

  log "initdb ($bin) in $dir"
  # UTF8 and the C locale: what Threadline requires of a PostgreSQL database.
  as_owner "$bin/initdb" --pgdata="$dir/data" --username=postgres --auth-local=trust \
    --auth-host=reject --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
# TYPE  DATABASE  USER        ADDRESS        METHOD
local   all       postgres                   trust
host    all       threadline  127.0.0.1/32   trust
HBA

  # A free port: probe, then let the server bind it (another may take it in between: retry).
  local port="" try
  for try in 1 2 3 4 5 6 7 8; do
    local candidate=$((20000 + RANDOM % 40000))
    port_is_free "$candidate" || continue
    if as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
      --options="-c listen_addresses=127.0.0.1 -p $candidate -c unix_socket_directories=$dir \
                 -c max_connections=300 -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off" start >/dev/null; then
      port="$candidate"
      break
    fi
    log "the server did not start on port $candidate (try $try); trying another"
  done
  [ -n "$port" ] || { cat "$dir/server.log" >&2; die "could not start PostgreSQL"; }
  # The tests' database: each test makes a schema in it (and a few a database of their own).
  local sql
  for sql in "CREATE ROLE threadline LOGIN CREATEDB" "CREATE DATABASE threadline_tests OWNER threadline"; do
    as_owner "$bin/psql" --quiet --no-psqlrc --host="$dir" --port="$port" --username=postgres \
      --dbname=postgres --set=ON_ERROR_STOP=1 --command="$sql" >/dev/null
  done
  trap - EXIT

  local url="postgres://threadline@127.0.0.1:$port/threadline_tests"
  printf '%s\n' "$url" >"$dir/url"
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster in $dir)"
  printf 'THREADLINE_PG_DIR=%s\nTHREADLINE_TEST_DATABASE_URL=%s\n' "$dir" "$url"
}

# Stops the cluster in $1 (if it runs) and deletes $1. Only a directory this script made.
stop_cluster() {
  local dir="$1" bin
  [ -d "$dir" ] || return 0
  [ -f "$dir/$MARKER" ] || die "$dir is not a throwaway cluster (no $MARKER): not deleting it"
  bin="$(pg_bin_dir)"
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate --wait stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: $0 stop DIR"
  stop_cluster "$1"
  log "removed the cluster in $1"
}

cmd_run() {
  [ $# -ge 1 ] || die "usage: $0 run CMD [ARG]..."
  # Globals: the EXIT trap runs after this function has returned.
  THREADLINE_PG_DIR=""
  THREADLINE_TEST_DATABASE_URL=""
  eval "$(cmd_start)"
  [ -n "$THREADLINE_PG_DIR" ] || die "the cluster did not start"
  trap 'stop_cluster "$THREADLINE_PG_DIR"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  export THREADLINE_TEST_DATABASE_URL
  "$@"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  run) shift; cmd_run "$@" ;;
  *) die "usage: $0 run CMD [ARG]... | start | stop DIR" ;;
esac
