#!/usr/bin/env bash
# Browser tests: starts `xikang demo` on a fresh data directory and drives it with Debian's
# chromium through playwright-core. Without node, chromium or the npm package it says the
# tests were skipped and exits 0, unless XIKANG_REQUIRE_BROWSER=1 (CI), which makes a skip
# a failure.
set -euo pipefail
cd "$(dirname "$0")"

skip() {
  if [ "${XIKANG_REQUIRE_BROWSER:-0}" = "1" ]; then
    echo "browser tests FAILED to run: $1 (XIKANG_REQUIRE_BROWSER=1)" >&2
    exit 1
  fi
  echo "browser tests SKIPPED: $1"
  exit 0
}

command -v node >/dev/null 2>&1 || skip "node is not installed"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || skip "$CHROMIUM is not installed (apt-get install chromium fonts-wqy-microhei)"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  npm ci --no-audit --no-fund >/dev/null 2>&1 || skip "npm ci failed (playwright-core or axe-core not installable)"
fi

. ./demo.sh
xikang_binary

data=$(mktemp -d)
log="$data/server.log"
password="browser-test-$(date +%s)"
# The API token sets up what the pages act on (tubes, batches, sentinel reports).
token="xk-browser-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$XIKANG" demo --data "$data/xikang" --people 3000 --days 3 --seed 11 --no-outbreak \
  --listen 127.0.0.1:0 --admin-password "$password" --admin-token "$token" >"$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

wait_for_demo "$log" "$server"

XIKANG_URL="$url" XIKANG_ADMIN_PASSWORD="$password" XIKANG_ADMIN_TOKEN="$token" CHROMIUM="$CHROMIUM" node browser.test.mjs
