# Sourced by web-tests/run.sh and api-tests/run.sh: the xikang binary they test, and the
# wait until a `xikang demo` they started serves. Run from the sourcing script's directory.

# Sets $XIKANG: $XIKANG_BIN, or a debug build of the workspace.
xikang_binary() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
  XIKANG="${XIKANG_BIN:-}"
  if [ -z "$XIKANG" ]; then
    (cd .. && cargo build -q -p xikang)
    XIKANG="$CARGO_TARGET_DIR/debug/xikang"
  fi
}

# wait_for_demo LOG PID: sets $url once the server logging to LOG serves and its tracing
# index is loaded; prints the log and exits when it dies or does not start in 2 minutes.
wait_for_demo() {
  url=""
  for _ in $(seq 1 240); do
    # The log may not exist yet: the server's shell opens it after this one forked.
    url=$(sed -n 's|^xikang serving on \(http://[^/]*\)/$|\1|p' "$1" 2>/dev/null | head -n1 || true)
    if [ -n "$url" ] && grep -q "tracing index ready" "$1"; then return 0; fi
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; echo "the demo server died" >&2; exit 1; }
    sleep 0.5
  done
  [ -n "$url" ] || { cat "$1" >&2; echo "the demo server did not start" >&2; exit 1; }
}
