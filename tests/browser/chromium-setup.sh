#!/usr/bin/env bash
# Debian's chromium and chromedriver for the console's browser tests, installed on first
# use (idempotent; `playwright install` cannot download browsers on this kind of machine).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq chromium chromium-driver >&2
