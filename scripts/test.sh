#!/usr/bin/env bash
# Fresh machine -> whole test suite: .venv with dev requirements, Debian's chromium (browser tests), espeak-ng and sox,
# @tensorflow/tfjs from npm (TF.js export test), then pytest over everything, browser and slow markers included.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-dev.txt
# chromium for the browser tests; espeak-ng and sox make the spoken words the Teach sound tests classify;
# redis-server, postgresql and haproxy are the real servers of the integration tier (the tests start their own).
DEBS=""
for c in chromium:chromium espeak-ng:espeak-ng sox:sox redis-server:redis-server haproxy:haproxy; do
  command -v "${c%%:*}" >/dev/null || DEBS="$DEBS ${c#*:}"
done
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || DEBS="$DEBS postgresql"
if [ -n "$DEBS" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $DEBS >/dev/null
fi
if command -v npm >/dev/null && [ ! -d node_modules/@tensorflow/tfjs ]; then
  npm install --no-audit --no-fund --silent
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports  # the layers of core/ (pyproject.toml [tool.importlinter])
exec .venv/bin/python -m pytest "$@"
