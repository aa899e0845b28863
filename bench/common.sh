# Shared by the operating benchmarks (bench/outage, bench/crash-import,
# bench/soak): a release build copied into a scratch directory, a throwaway
# PostgreSQL cluster or SQLite file, and the server started and stopped.
# Sourced, not run. Everything lives under $work and goes with it.

secret=bench-secret-0123456789abcdef0123456789
work=$(mktemp -d /var/tmp/clientela-bench.XXXXXX)
chmod 755 "$work" # the PostgreSQL cluster runs as the postgres user
server=""
pg_data=""
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

cleanup() {
  set +e # errexit would stop the cleanup at the first kill or wait that fails
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null
  for pid in $(jobs -p); do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ] &&
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop > /dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Builds the release binary and copies it into $work, so that another build
# in a shared target directory cannot swap it during the run. CLIENTELA_BIN
# names an already built binary to use instead.
build() {
  if [ -z "${CLIENTELA_BIN:-}" ]; then
    cargo build --release --locked --quiet
  fi
  cp "${CLIENTELA_BIN:-${CARGO_TARGET_DIR:-target}/release/clientela}" "$work/clientela"
  bin=$work/clientela
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg() { runuser -u postgres -- "$pg_bin/$1" "${@:2}"; }

# Sets $db to a fresh database of the backend ("postgres" or "sqlite").
make_database() {
  case "$1" in
    postgres)
      [ -n "$pg_bin" ] || { echo "no PostgreSQL under /usr/lib/postgresql" >&2; exit 1; }
      pg_data=$work/pg
      pg_port=$(free_port)
      mkdir "$pg_data" && chown postgres "$pg_data" && chmod 700 "$pg_data"
      pg initdb -D "$pg_data" -A trust -U postgres > /dev/null
      pg_start
      pg createdb -h 127.0.0.1 -p "$pg_port" -U postgres clientela
      db="postgres://postgres@127.0.0.1:$pg_port/clientela"
      ;;
    sqlite)
      sqlite_file=$work/clientela.db
      db="sqlite://$sqlite_file?mode=rwc"
      ;;
    *) echo "backend must be postgres or sqlite, not '$1'" >&2; exit 2 ;;
  esac
}

pg_start() {
  pg pg_ctl -D "$pg_data" -l "$pg_data/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_data" start > /dev/null
}

pg_stop() { pg pg_ctl -D "$pg_data" -m fast -w stop > /dev/null; }

# SQL on the database, one row per line, columns separated by '|'.
sql() {
  if [ -n "$pg_data" ]; then
    psql -X -q -A -t -h 127.0.0.1 -p "$pg_port" -U postgres -d clientela -v ON_ERROR_STOP=1 -c "$1"
  else
    python3 - "$sqlite_file" "$1" << 'EOF'
import sqlite3, sys, uuid
con = sqlite3.connect(sys.argv[1], timeout=30)
for row in con.execute(sys.argv[2]):
    # SeaORM stores UUIDs as 16-byte blobs on SQLite: shown as text here.
    print("|".join("" if v is None else str(uuid.UUID(bytes=v)) if isinstance(v, bytes) and len(v) == 16
                   else str(v) for v in row))
EOF
  fi
}

# Starts the server on $db (extra VAR=value arguments are added to its
# environment); sets $server (its pid) and $base (its URL).
start_server() {
  : > "$work/server.out"
  env DATABASE_URL="$db" CLIENTELA_JWT_SECRET=$secret CLIENTELA_ADDR=127.0.0.1:0 \
    CLIENTELA_RATE_LIMIT=0 RUST_LOG=${RUST_LOG:-warn} "$@" \
    "$bin" >> "$work/server.out" 2>&1 &
  server=$!
  for _ in $(seq 150); do grep -q 'listening on' "$work/server.out" && break; sleep 0.2; done
  base=$(sed -n 's/^Clientela listening on \(http[^ ]*\).*/\1/p' "$work/server.out" | tail -1)
  [ -n "$base" ] || { echo "the server did not start:" >&2; tail "$work/server.out" >&2; exit 1; }
}

token() { CLIENTELA_JWT_SECRET=$secret "$bin" token --role "$1" --tenant "${2:-default}" --ttl 2h; }

rss_kb() { ps -o rss= -p "$server" | tr -d ' '; }
