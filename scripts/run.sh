#!/usr/bin/env bash
# One command to set up and run FlowSync: ./scripts/run.sh
# Embedded (nothing configured): SQLite, engine inline in the web process.
# With DATABASE_URL and REDIS_URL: PostgreSQL, plus FLOWSYNC_WORKERS engine workers (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=.venv/bin/python
HOST=${FLOWSYNC_HOST:-127.0.0.1}
PORT=${FLOWSYNC_PORT:-8000}

# Once per installation: a random SECRET_KEY in var/secret_key (0600); settings refuse a known one.
[ -n "${FLOWSYNC_SECRET_KEY:-}" ] || $PY -m flowsync.secret_key
$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0
echo "==> bootstrap (tenant, admin user, API key, demo processes)"
$PY manage.py flowsync_bootstrap --demo

# Prometheus multiprocess mode (flowsync/metrics.py): web and engine workers write their
# counters here and /metrics sums them. Emptied at start: counters restart with the deployment.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -n "${REDIS_URL:-}" ]; then
  for i in $(seq 1 "${FLOWSYNC_WORKERS:-2}"); do
    $PY manage.py engine_worker --name "engine-$i-$$" & pids+=($!)
  done
  mode="PostgreSQL/RQ (${FLOWSYNC_WORKERS:-2} engine workers)"
else
  mode="embedded (SQLite, engine inline)"
fi
cat <<MSG

FlowSync is running — $mode
  Start page: http://$HOST:$PORT/            (links to everything below)
  Admin:      http://$HOST:$PORT/admin/      (demo: tenant admin "admin" / password "admin" unless changed)
  Tasklist:   http://$HOST:$PORT/tasks/
  Inspector:  http://$HOST:$PORT/inspector/
  REST API:   http://$HOST:$PORT/v2/         (Basic auth with the API key above; opened in a browser: the API docs)
  API docs:   http://$HOST:$PORT/api/docs/
  Health:     http://$HOST:$PORT/healthz  http://$HOST:$PORT/readyz
  Metrics:    /metrics on this port, once FLOWSYNC_METRICS_TOKEN is set (Authorization: Bearer <token>)
  Status:     .venv/bin/python manage.py flowsync_status
MSG
# One web process per core (2 × 16 on the 2-core reference machine): 4 × 8 cost ~25 % more web CPU
# per request there (context switches between more processes than cores; README, issue #16).
.venv/bin/gunicorn flowsync.wsgi:application --bind "$HOST:$PORT" --workers "${FLOWSYNC_WEB_WORKERS:-2}" \
  --threads "${FLOWSYNC_WEB_THREADS:-16}" &  # access lines come from Django (flowsync/observe.py), as JSON
pids+=($!)
wait "${pids[@]}"
