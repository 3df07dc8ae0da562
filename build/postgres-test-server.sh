#!/usr/bin/env bash
# A throw-away PostgreSQL server for the shared-storage tests (tests/MlNetSsl.Tests/AutoML/SharedStorageTests.cs).
#   eval "$(bash build/postgres-test-server.sh start)"   # prints the exports below; installs PostgreSQL if missing
#   bash build/postgres-test-server.sh restart <data dir> # what MLNETSSL_TEST_POSTGRES_RESTART runs
#   bash build/postgres-test-server.sh stop <data dir>    # stops the server and deletes its data
# The cluster lives in a new temporary folder, listens on 127.0.0.1 only, on a free port, and its only role has a generated
# password (scram-sha-256; no trust or peer login). As root the server runs as the Debian package's "postgres" user.
set -euo pipefail
command="${1:-}"
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

bin_dir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$dir" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  [ -n "$dir" ] || { echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "$dir"
}

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
  start)
    bin="$(bin_dir)"
    data="$(mktemp -d -t mlnetssl-postgres-XXXXXX)"
    password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    printf '%s\n' "$password" > "$data/.pw"
    chmod 600 "$data/.pw"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$data"; fi
    as_server "$bin/initdb" -D "$data/cluster" -U mlnetssl --auth=scram-sha-256 --pwfile="$data/.pw" -E UTF8 >"$data/initdb.log" 2>&1 \
      || { cat "$data/initdb.log" >&2; exit 1; }
    rm -f "$data/.pw"
    as_server "$bin/pg_ctl" -D "$data/cluster" -l "$data/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200 -c fsync=off" start >&2
    PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p "$port" -U mlnetssl -d postgres -qc "CREATE DATABASE mlnetssl_test" >&2
    echo "export MLNETSSL_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Database=mlnetssl_test;Username=mlnetssl;Password=$password'"
    echo "export MLNETSSL_TEST_POSTGRES_RESTART='bash $script restart $data'"
    echo "export MLNETSSL_TEST_POSTGRES_DATA='$data'"
    ;;
  restart)
    as_server "$(bin_dir)/pg_ctl" -D "$2/cluster" -w -m fast restart >/dev/null
    ;;
  stop)
    if [ -n "${2:-}" ] && [ -d "$2/cluster" ]; then
      as_server "$(bin_dir)/pg_ctl" -D "$2/cluster" -w -m fast stop >/dev/null 2>&1 || true
      rm -rf "$2"
    fi
    ;;
  *)
    echo "usage: $0 start | restart <data dir> | stop <data dir>" >&2
    exit 2
    ;;
esac
