#!/usr/bin/env bash
# Install what FlowSync needs on a fresh Debian machine: venv + pip packages, npm assets,
# and (for tests) Chromium from Debian. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=${1:-}

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "$want_dev" = "--dev" ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
# promtool (tests check /metrics with `promtool check metrics`) comes with Debian's prometheus package.
if [ "$want_dev" = "--dev" ] && ! command -v promtool >/dev/null; then need_apt+=(prometheus); fi
# PgBouncer: tests/ops/test_pgbouncer__transaction_pool.py runs the API and an engine worker through it.
if [ "$want_dev" = "--dev" ] && ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  need_apt+=(pgbouncer)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
req=requirements.txt; [ "$want_dev" = "--dev" ] && req=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-${want_dev:-run}"
if [ ! -f "$stamp" ]; then
  echo "==> pip install -r $req"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$req"
  touch "$stamp"
fi

if [ -f package.json ] && [ ! -f node_modules/.flowsync-installed ] || [ package.json -nt node_modules/.flowsync-installed ]; then
  echo "==> npm install"
  npm install --no-audit --no-fund --silent
  touch node_modules/.flowsync-installed
fi
mkdir -p var
