#!/usr/bin/env bash
# The agent workspace (web/) in a real headless browser. Installs Chromium and its driver (Debian's
# chromium and chromium-driver) when missing, starts the local stack in memory on a free loopback
# port serving the web app from web/, runs infra/browser_test.py against it, and stops the stack.
#   bash infra/browser.sh                  the test
#   bash infra/browser.sh --screenshots    also save a picture of every page to docs/screenshots/
# HANDOFF_LOCAL_BIN names the stack binary (default target/debug/handoff-local, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "Installing chromium and chromium-driver ..." >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
bash infra/venv.sh >&2

BIN=${HANDOFF_LOCAL_BIN:-target/debug/handoff-local}
if [ ! -x "$BIN" ]; then cargo build -p handoff-local --locked; fi
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$BIN" --listen "127.0.0.1:$PORT" --in-memory --web-dir web >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "error: the local stack did not start:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.1
done
.venv/bin/python infra/browser_test.py --url "http://127.0.0.1:$PORT" "$@"
