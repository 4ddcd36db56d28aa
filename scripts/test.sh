#!/usr/bin/env bash
# Installs everything (browser included) and runs the whole test suite: lint, types, vitest, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser

printf '\n==> ruff\n'
.venv/bin/ruff check backend bots tests migrations
.venv/bin/ruff format --check backend bots tests migrations

printf '\n==> mypy\n'
.venv/bin/mypy

printf '\n==> vitest\n'
(cd vue-frontend && npm test --silent)

printf '\n==> pytest\n'
set +e
.venv/bin/pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$status"
