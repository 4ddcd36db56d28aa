#!/usr/bin/env bash
# Installs everything and runs the demo: embedded PostgreSQL, simulator, offline AI, console on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/salesbot demo "$@"
