#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests, benches and local runs of SQL batch prediction, from the
# machine's Debian packages (installed with apt-get when missing).
#
#   scripts/postgres.sh ensure            prints the folder holding initdb and postgres; installs the
#                                         Debian package `postgresql` first when there is none (needs
#                                         root or passwordless sudo). Exits 3 with the reason when it cannot.
#   scripts/postgres.sh start [--port N] [--dir DIR] [--listen ADDR] [--fast] [--watch PID]
#                                         initdb (once per DIR) and start one server in the background;
#                                         prints KEY=VALUE lines: PID, PORT, HOST, DIR, LOG, USER, PASSWORD,
#                                         DATABASE. DIR is a new temp dir by default. Port 0 or none picks a
#                                         free one. --listen (default 127.0.0.1) is the address it accepts
#                                         TCP connections on (e.g. the machine's address, for pods).
#                                         --fast turns fsync off (tests). With --watch, the server is
#                                         stopped once process PID is gone (a test runner that died
#                                         cannot leave it behind).
#   scripts/postgres.sh stop PID          fast shutdown (SIGINT), SIGKILL after 20 s; returns when gone
#
# The superuser is "modelship" with password "modelship-secret" (scram-sha-256 over TCP), and the
# database "modelship". PostgreSQL refuses to run as root: as root, DIR is handed to the system user
# "postgres" and the server runs as that user (runuser).
set -euo pipefail
cd "$(dirname "$0")/.."

user="modelship"
password="modelship-secret"
database="modelship"

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

# The newest /usr/lib/postgresql/<major>/bin (Debian's layout), or the folder of initdb on PATH.
find_bin() {
  if [[ -n "${PG_BIN:-}" && -x "$PG_BIN/postgres" ]]; then
    echo "$PG_BIN"
    return 0
  fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]]; then
    echo "$d"
    return 0
  fi
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v postgres)")"
    return 0
  fi
  return 1
}

ensure() {
  if find_bin; then
    return 0
  fi
  local sudo=""
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
      sudo="sudo -n"
    else
      echo "postgres.sh: PostgreSQL is not installed and cannot be installed here (apt-get needs root or passwordless sudo); set PG_BIN to a folder with initdb and postgres" >&2
      exit 3
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres.sh: PostgreSQL is not installed and there is no apt-get to install it; set PG_BIN" >&2
    exit 3
  fi
  exec 9>"${TMPDIR:-/tmp}/modelship-apt.lock"
  flock 9
  if ! find_bin >/dev/null; then
    echo "postgres.sh: installing the Debian package postgresql" >&2
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1; then
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
      if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1; then
        echo "postgres.sh: apt-get install postgresql failed" >&2
        exit 3
      fi
    fi
  fi
  find_bin || {
    echo "postgres.sh: the postgresql package is installed but initdb/postgres were not found" >&2
    exit 3
  }
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Runs a command as the user that owns the data: ourselves, or "postgres" when we are root.
as_owner() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local port=0 dir="" listen="127.0.0.1" fast="" watch=""
  while (($#)); do
    case "$1" in
    --port) port="$2" && shift 2 ;;
    --dir) dir="$2" && shift 2 ;;
    --listen) listen="$2" && shift 2 ;;
    --fast) fast=1 && shift ;;
    --watch) watch="$2" && shift 2 ;;
    *) die "unknown option $1 (see the header of scripts/postgres.sh)" ;;
    esac
  done
  local bin
  bin="$(ensure)" || exit $?
  [[ -n "$dir" ]] || dir="$(mktemp -d "${TMPDIR:-/tmp}/modelship-postgres-XXXXXX")"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ "$(id -u)" == "0" ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the system user \"postgres\" (the Debian package makes it)"
    chown postgres "$dir"
    # the server, running as postgres, must reach DIR through its parents (mktemp makes them 0700)
    chmod 0755 "$dir"
  fi
  [[ "$port" != 0 ]] || port="$(free_port)"

  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    local pwfile="$dir/pwfile"
    printf '%s\n' "$password" >"$pwfile"
    [[ "$(id -u)" != "0" ]] || chown postgres "$pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U "$user" --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      as_owner "$bin/initdb" -D "$dir/data" -U "$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
      die "initdb failed: $(tail -n 20 "$dir/initdb.log")"
    rm -f "$pwfile"
    if [[ "$listen" != "127.0.0.1" && "$listen" != "localhost" ]]; then
      # initdb only lets loopback in; pods come from their own network
      echo "host all all 0.0.0.0/0 scram-sha-256" | as_owner tee -a "$dir/data/pg_hba.conf" >/dev/null
    fi
  fi

  local opts=(-D "$dir/data" -p "$port" -c "listen_addresses=$listen" -c "unix_socket_directories=$dir"
    -c "logging_collector=off" -c "max_connections=200")
  [[ -z "$fast" ]] || opts+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
  local log="$dir/postgres.log"
  [[ "$(id -u)" != "0" ]] || {
    touch "$log"
    chown postgres "$log"
  }
  if [[ "$(id -u)" == "0" ]]; then
    nohup runuser -u postgres -- "$bin/postgres" "${opts[@]}" >"$log" 2>&1 </dev/null &
  else
    nohup "$bin/postgres" "${opts[@]}" >"$log" 2>&1 </dev/null &
  fi
  local pid=$!
  if [[ "$(id -u)" == "0" ]]; then
    # runuser stays the parent of postgres; the postmaster's own pid is what "stop" signals
    local deadline=$((SECONDS + 20))
    while [[ ! -f "$dir/data/postmaster.pid" ]] && ((SECONDS < deadline)); do
      kill -0 "$pid" 2>/dev/null || die "postgres exited during start-up: $(tail -n 20 "$log")"
      sleep 0.1
    done
    [[ -f "$dir/data/postmaster.pid" ]] || die "postgres wrote no postmaster.pid within 20 s: $(tail -n 20 "$log")"
    pid="$(head -n 1 "$dir/data/postmaster.pid")"
  fi
  echo "$pid" >"$dir/postgres.pid"
  if [[ -n "$watch" ]]; then
    nohup bash -c "while kill -0 $watch 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; kill -0 $watch 2>/dev/null || kill -INT $pid 2>/dev/null" \
      >/dev/null 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + 60))
  until "$bin/pg_isready" -q -h "$dir" -p "$port" -U "$user" -d postgres; do
    kill -0 "$pid" 2>/dev/null || die "postgres (pid $pid) exited during start-up: $(tail -n 20 "$log")"
    ((SECONDS < deadline)) || {
      kill -INT "$pid" 2>/dev/null || true
      die "postgres did not accept connections on port $port within 60 s: $(tail -n 20 "$log")"
    }
    sleep 0.1
  done
  if ! "$bin/psql" -q -h "$dir" -p "$port" -U "$user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    "$bin/psql" -q -h "$dir" -p "$port" -U "$user" -d postgres -c "CREATE DATABASE $database" >/dev/null ||
      die "could not create the database $database"
  fi
  local host="$listen"
  [[ "$host" != "0.0.0.0" ]] || host="127.0.0.1"
  echo "PID=$pid"
  echo "PORT=$port"
  echo "HOST=$host"
  echo "DIR=$dir"
  echo "LOG=$log"
  echo "USER=$user"
  echo "PASSWORD=$password"
  echo "DATABASE=$database"
}

stop() {
  local pid="${1:-}"
  [[ "$pid" =~ ^[0-9]+$ ]] || die "usage: scripts/postgres.sh stop PID"
  kill -0 "$pid" 2>/dev/null || return 0
  local comm
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  [[ "$comm" == postgres* ]] || die "process $pid is not a postgres server (it is \"$comm\")"
  kill -INT "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
  done
}

cmd="${1:-}"
shift || true
case "$cmd" in
ensure) ensure ;;
start) start "$@" ;;
stop) stop "$@" ;;
*) die "usage: scripts/postgres.sh ensure | start [--port N] [--dir DIR] [--listen ADDR] [--fast] [--watch PID] | stop PID" ;;
esac
