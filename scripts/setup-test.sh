#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: Debian's Chromium (for the report's browser
# test) and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# npm install, not npm ci: npm 11 leaves other platforms' optional packages out of the lock file
# and npm ci then refuses it. Installing runs `prepare`, which builds dist/ (the CLI tests spawn it).
npm install --no-audit --no-fund
