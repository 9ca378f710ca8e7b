#!/usr/bin/env bash
# Starts moto server (an AWS-compatible emulator for DynamoDB, SQS and EventBridge Scheduler) on a
# free loopback port, waits until it answers, and prints the line to export:
#     export AWS_ENDPOINT_URL=http://127.0.0.1:PORT
# Its process id is written to .venv/moto.pid and its log to .venv/moto.log.
#   bash infra/moto.sh          start
#   bash infra/moto.sh stop     stop it
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=.venv/moto.pid
if [ "${1:-start}" = "stop" ]; then
    if [ -f "$PIDFILE" ]; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; rm -f "$PIDFILE"; fi
    exit 0
fi
bash infra/venv.sh >&2
PORT=${MOTO_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
.venv/bin/python infra/moto_server.py 127.0.0.1 "$PORT" > .venv/moto.log 2>&1 &
echo $! > "$PIDFILE"
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/', timeout=1)" 2>/dev/null; then
        echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT"
        exit 0
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "error: moto server exited; see .venv/moto.log" >&2
        cat .venv/moto.log >&2
        exit 1
    fi
    sleep 0.1
done
echo "error: moto server did not answer on port $PORT within 10 s; see .venv/moto.log" >&2
exit 1
