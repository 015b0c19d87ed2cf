#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: Debian's Chromium (for the report's browser
# test), the kernel lab's QEMU, busybox-static and C toolchain, the npm dependencies, and the lab's
# kernel (downloaded into lab/.cache with a private apt configuration). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! command -v chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# npm install, not npm ci: npm 11 leaves other platforms' optional packages out of the lock file
# and npm ci then refuses it. Installing runs `prepare`, which builds dist/ (the CLI tests spawn it).
npm install --no-audit --no-fund
# The kernel lab (lab/): host packages, then Debian's newest kernel into lab/.cache (nothing is
# installed into the system from that download).
LAB_PKGS="qemu-system-x86 busybox-static xz-utils zstd gcc libc6-dev"
if ! command -v qemu-system-x86_64 >/dev/null 2>&1 || [ ! -e /bin/busybox ] || ! command -v cc >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $LAB_PKGS >/dev/null
fi
node dist/lab/main.js --prepare
