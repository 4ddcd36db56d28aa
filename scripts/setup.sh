#!/usr/bin/env bash
# Installs everything the platform needs into this checkout: Python venv, console build and,
# with --browser, Debian's chromium and Chinese fonts for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

python_bin=${PYTHON:-python3}
command -v "$python_bin" >/dev/null || die "python3 (>= 3.11) is required"
"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python >= 3.11 is required"
command -v npm >/dev/null || die "Node.js 20+ with npm is required for the console"

step "Python environment (.venv)"
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

step "Console (vue-frontend)"
lock_hash=$(sha256sum vue-frontend/package-lock.json | cut -c1-16)
if [ "$(cat vue-frontend/node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  (cd vue-frontend && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > vue-frontend/node_modules/.lock-hash
fi
(cd vue-frontend && npm run build --silent)

if [ "$want_browser" = 1 ]; then
  step "Browser for the end-to-end tests (Debian chromium, fonts-wqy-microhei)"
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing+=(fonts-wqy-microhei)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      die "need root (or passwordless sudo) to apt-get install ${missing[*]}"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  echo "chromium: $(chromium --version 2>/dev/null || echo missing)"
fi
