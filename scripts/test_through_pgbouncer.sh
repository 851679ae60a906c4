#!/usr/bin/env bash
# Run tests (default: the API suite) with every database connection through PgBouncer in transaction
# pooling mode — the tests, the live servers and the engine workers they start:
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowsync ./scripts/test_through_pgbouncer.sh [pytest args]
# Starts its own pgbouncer (Debian's package; scripts/setup.sh --dev installs it) on a free port with a
# wildcard database entry, sets FLOWSYNC_DB_POOLER=transaction, stops it at the end and drops the test
# database (pytest-django cannot: the pooler reconnects to it). LISTEN goes through the pooler too here,
# so engine workers hear no wake-ups and progress by their sweep (tests/ops/test_pgbouncer__transaction_pool.py
# covers the direct-LISTEN split).
set -euo pipefail
cd "$(dirname "$0")/.."
direct=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/flowsync}
dbname=${direct##*/}
hostport=${direct#*@}; hostport=${hostport%%/*}
bouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/pgbouncer-XXXXXX)
chmod 755 "$dir"
printf '"postgres" ""\n' > "$dir/users.txt"
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=${hostport%%:*} port=${hostport##*:}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
INI
chmod 644 "$dir"/*
as_user=(); [ "$(id -u)" -eq 0 ] && as_user=(-u postgres)  # pgbouncer refuses to run as root
"$bouncer" "${as_user[@]}" "$dir/pgbouncer.ini" > "$dir/log" 2>&1 &
pid=$!
cleanup() {
  psql "postgres://postgres@127.0.0.1:$port/pgbouncer" -c "SHOW STATS" 2>/dev/null | grep -E "database|test_$dbname" || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  psql "${direct%/*}/postgres" -qc "DROP DATABASE IF EXISTS test_$dbname WITH (FORCE)" || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 50); do psql "postgres://postgres@127.0.0.1:$port/postgres" -qAtc "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/$dbname" FLOWSYNC_DB_POOLER=transaction
echo "==> pytest through pgbouncer (transaction pooling) on port $port"
[ $# -eq 0 ] && set -- tests/api -m "not browser"
.venv/bin/python -m pytest -p no:cacheprovider "$@"
