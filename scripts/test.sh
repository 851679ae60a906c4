#!/usr/bin/env bash
# One command to set up and run the whole test suite on PostgreSQL and Redis: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --dev

# The services the tests talk to: start them when they are not running.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "==> starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "==> starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/flowsync}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
export FLOWSYNC_CHROMIUM=${FLOWSYNC_CHROMIUM:-/usr/bin/chromium}

echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
set +e
# Three workers on two cores: most tests wait on servers, workers and browsers rather than compute.
# Each worker has its own test database and Redis database (tests/settings.py); a file stays on one worker.
.venv/bin/python -m pytest -n "${FLOWSYNC_TEST_WORKERS:-3}" --dist loadfile "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
[ $status -ne 0 ] && exit $status

# The embedded default (SQLite, engine inline) runs the same engine code through its ORM paths:
# a second, fast pass of the engine suite on SQLite keeps that path from rotting unnoticed.
# Left out: browser and process tests (they need a server database) and PostgreSQL-only behaviour.
echo "==> pytest (engine on SQLite)"
DATABASE_URL= .venv/bin/python -m pytest -q -p no:cacheprovider tests/engine tests/ops tests/test_architecture.py \
  -m "not browser and not slow and not postgres"
