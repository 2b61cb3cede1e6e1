#!/usr/bin/env bash
# Runs grantd's whole test suite on a fresh Debian machine: installs what the
# tests need (Debian's Chromium for the browser tests), then runs every Go test
# with the race detector. Safe to run again; it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v /usr/bin/chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing Debian's chromium for the browser tests" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test.sh: /usr/bin/chromium missing and not root; browser tests will skip (sudo apt-get install chromium)" >&2
  fi
fi

go vet ./...
go test -race -count=1 ./...
