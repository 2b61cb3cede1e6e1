#!/usr/bin/env bash
# Runs grantd's whole test suite on a fresh Debian machine: installs what the
# tests need (Debian's Chromium for the browser tests, the npm packages of the
# test OpenID Connect provider), then runs every Go test with the race
# detector. Safe to run again; it installs only what is missing.
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

# The real OpenID Connect provider of the upstream tests (testdata/upstream):
# panva's oidc-provider, pinned by package-lock.json, installed with npm when
# node_modules is missing or was installed from another lock file (a copy of
# the lock file in node_modules records which; npm's own hidden lock file
# cannot tell, as npm sets its time). No package there has an install script,
# so none is run.
up=testdata/upstream
if ! cmp -s "$up/package-lock.json" "$up/node_modules/.grantd-installed-lock.json"; then
  if command -v npm >/dev/null 2>&1; then
    echo "test.sh: installing the test OpenID Connect provider ($up: npm ci)" >&2
    (cd "$up" && npm ci --no-audit --no-fund --ignore-scripts && cp package-lock.json node_modules/.grantd-installed-lock.json)
  else
    echo "test.sh: npm missing; the upstream OpenID Connect tests will skip (and fail in CI)" >&2
  fi
fi

go vet ./...
go test -race -count=1 ./...
